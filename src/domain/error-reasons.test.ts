import { describe, expect, it } from "vitest";
import { ERROR_REASONS } from "./error-reasons.js";
import { AppError, reasonError } from "./errors.js";

describe("error reasons", () => {
  it("every category has a generic reason of its own name", () => {
    for (const category of [
      "validation",
      "not_found",
      "conflict",
      "unauthenticated",
      "forbidden",
      "unsupported",
      "internal",
    ] as const) {
      expect(ERROR_REASONS[category].category).toBe(category);
    }
  });

  it.each(Object.entries(ERROR_REASONS))("%s maps to a status and an exit code", (reason) => {
    const err = reasonError(reason as keyof typeof ERROR_REASONS, "x");
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.exitCode).toBeGreaterThan(0);
    expect(err.toJSON().reason).toBe(reason);
  });

  it("a reason overrides its category's status and exit code", () => {
    expect(reasonError("request.body-too-large", "big").status).toBe(413);
    expect(reasonError("audit.chain-broken", "cut").exitCode).toBe(6);
    expect(new AppError("conflict", "x").reason).toBe("conflict");
  });
});
