import { ValidationError } from "../../src/domain/errors.js";

/** The ValidationError a call throws, so a test can check its `where` and message. */
export function validationErrorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error("expected a ValidationError");
}
