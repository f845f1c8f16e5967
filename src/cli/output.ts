import { isAppError } from "../domain/errors.js";

// The output machinery lives in output/; these names stay for the commands that import them here.
export { printData as printJson } from "./output/data.js";
export { printFields } from "./output/fields.js";
export { type Column, printTable } from "./output/table.js";

/** Writes an error to stderr (as JSON when `json` is set) and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  if (isAppError(err)) {
    if (json) process.stderr.write(`${JSON.stringify({ error: err.toJSON() })}\n`);
    else process.stderr.write(`error: ${err.describe()}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: "internal", message } })}\n`);
  else process.stderr.write(`error: ${message}\n`);
  return 1;
}
