import { ValidationError } from "../domain/errors.js";

/**
 * Builds the ValidationError every scheme throws for a version its tool rejects, so the message always reads
 * `<Ecosystem> version "<input>": <reason>` and callers can read the parts from `details`.
 */
export function invalidVersion(ecosystem: string, version: string, reason: string): ValidationError {
  return new ValidationError(`${ecosystem} version ${JSON.stringify(version)}: ${reason}`, {
    details: { ecosystem, version, reason },
  });
}
