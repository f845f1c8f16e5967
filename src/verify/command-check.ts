import { execFile } from "node:child_process";
import type { ResolvedHealthCheck } from "./check-types.js";
import type { TryOutcome } from "./try-outcome.js";

/** Output beyond this is cut: the check reads the exit code, the output only explains a failure. */
const MAX_OUTPUT_BYTES = 256 * 1024;

/** The last lines of a command's output, for the check's detail. */
function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 500 ? `…${trimmed.slice(-500)}` : trimmed;
}

/**
 * One run of a command check: the argv is executed directly (never through a shell), killed with
 * SIGKILL when it outlives its timeout, and passes on the expected exit code.
 */
export function commandTry(
  check: ResolvedHealthCheck & { command: string[] },
  signal: AbortSignal,
): Promise<TryOutcome> {
  const [file, ...args] = check.command;
  if (file === undefined) return Promise.resolve({ ok: false, detail: "the command is empty" });
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        timeout: check.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: "utf8",
        signal,
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const output = tail(stderr || stdout);
        const suffix = output === "" ? "" : `: ${output}`;
        if (error === null) {
          resolve(
            check.expectExit === 0
              ? { ok: true, detail: "exit 0" }
              : { ok: false, detail: `exit 0, expected ${check.expectExit}${suffix}` },
          );
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          resolve({ ok: false, detail: `${file}: command not found` });
          return;
        }
        if (error.killed) {
          resolve({ ok: false, detail: `killed after ${check.timeoutMs} ms without finishing${suffix}` });
          return;
        }
        if (typeof code === "number") {
          resolve(
            code === check.expectExit
              ? { ok: true, detail: `exit ${code}` }
              : { ok: false, detail: `exit ${code}, expected ${check.expectExit}${suffix}` },
          );
          return;
        }
        resolve({ ok: false, detail: `${file} failed: ${error.message}` });
      },
    );
  });
}
