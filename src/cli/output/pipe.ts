/**
 * A reader that stops early (`autopatch assets show web-1 --json | head -1`) closes the pipe: the
 * next write fails with EPIPE, which ends the command quietly with status 0, as cat does.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
}
