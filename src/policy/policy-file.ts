/** Reading policy files from disk, with a missing file reported as NotFound rather than a crash. */
import { readFile } from "node:fs/promises";
import { NotFoundError, ValidationError } from "../domain/errors.js";
import { loadPolicy } from "./loader.js";
import type { Policy } from "./schema.js";

/** The text of a policy file; NotFoundError when it does not exist. */
export async function readPolicyText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = err instanceof Error && "code" in err ? (err as NodeJS.ErrnoException).code : undefined;
    if (code === "ENOENT")
      throw new NotFoundError(`policy file not found: ${file}`, { where: file, cause: err });
    throw new ValidationError(
      `cannot read policy file ${file}: ${err instanceof Error ? err.message : String(err)}`,
      {
        where: file,
        cause: err,
      },
    );
  }
}

/**
 * Reads and validates a policy file for local use (its calendar); ValidationError with `file:line:col`
 * when it is invalid. Webhook destinations depend on the server's allow-list, so `policy validate` and
 * the server check them, not this.
 */
export async function loadPolicyFile(file: string): Promise<Policy> {
  return loadPolicy(await readPolicyText(file), file, { webhooks: null });
}
