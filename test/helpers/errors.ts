import { AppError, ValidationError } from "../../src/domain/errors.js";
import type { ArtifactRef } from "../../src/rollout/operation.js";

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

/** The AppError a promise rejects with, so a test can check its reason and message. */
export async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

/** A snapshot fetcher for tests where the artifact store must not be asked. */
export const noFetch = async (ref: ArtifactRef): Promise<string> => {
  throw new Error(`unexpected fetch of ${ref.sha256}`);
};
