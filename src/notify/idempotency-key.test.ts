import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { notificationKey } from "./idempotency-key.js";

describe("notificationKey", () => {
  it("is the sha256 of the JSON-encoded tuple, occurrence defaulting to the event", () => {
    const expected = createHash("sha256")
      .update(JSON.stringify(["started", "chg-1", "ops", "started"]))
      .digest("hex");
    expect(notificationKey("started", "chg-1", "ops")).toBe(expected);
    expect(notificationKey("started", "chg-1", "ops", "started")).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["another event", ["failed", "chg-1", "ops"]],
    ["another subject", ["started", "chg-2", "ops"]],
    ["another webhook", ["started", "chg-1", "chat"]],
    ["another occurrence", ["started", "chg-1", "ops", "2026-11-20T10:00:00Z"]],
  ] as const)("differs for %s", (_, parts) => {
    const [event, subject, webhook, occurrence] = parts;
    expect(notificationKey(event, subject, webhook, occurrence)).not.toBe(
      notificationKey("started", "chg-1", "ops"),
    );
  });

  it("cannot be forged by moving a separator between parts", () => {
    expect(notificationKey("paused", "a,b", "c")).not.toBe(notificationKey("paused", "a", "b,c"));
    expect(notificationKey("paused", "a\nb", "c")).not.toBe(notificationKey("paused", "a", "b\nc"));
  });
});
