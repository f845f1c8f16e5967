import { statSync } from "node:fs";
import { reasonError } from "../../domain/errors.js";

/**
 * Refuses a file that holds a secret when its group or others may read or write it, as ssh refuses an
 * unprotected private key. Windows has no such mode bits, so the check is skipped there.
 */
export function assertPrivateFile(path: string, what: string): void {
  if (process.platform === "win32") return;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw reasonError(
      "config.unsafe-permissions",
      `${what} is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")}) and may hold a token, so it is refused; make it private: chmod 600 ${path}`,
      { where: path },
    );
  }
}
