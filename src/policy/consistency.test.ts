import { describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import { loadPolicy, validatePolicy } from "./loader.js";
import { phaseSizes } from "./phase-sizes.js";

const rollout = (phases: string, extra = ""): string => `rollout:\n  phases: ${phases}\n${extra}`;

describe("waves past 100%", () => {
  it.each([
    ["[{canary: 1}, {wave: 50%}, {wave: 75%}]", "/rollout/phases/2/wave", "125% (50% + 75%)"],
    ["[{wave: 60%}, {wave: 30%}, {wave: 20%}]", "/rollout/phases/2/wave", "110% (60% + 30% + 20%)"],
    ["[{canary: 5%}, {wave: 10}, {wave: 100%}, {wave: 1%}]", "/rollout/phases/3/wave", "101% (100% + 1%)"],
  ])("%s is refused at %s", (phases, path, sum) => {
    const result = validatePolicy(rollout(phases));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      expect.objectContaining({
        path,
        reason: "policy.waves-over-100",
        message: expect.stringContaining(sum),
      }),
    ]);
  });

  it.each([
    "[{canary: 1}, {wave: 25%}, {wave: 75%}]",
    "[{canary: 10%}, {wave: 100%}]",
    "[{wave: 10}, {wave: 20}, {wave: 30}]",
  ])("%s is accepted", (phases) => {
    expect(validatePolicy(rollout(phases)).ok).toBe(true);
  });

  it("loadPolicy throws with the reason and file:line:col", () => {
    try {
      loadPolicy(rollout("[{wave: 80%}, {wave: 80%}]"), "p.yaml");
      expect.unreachable();
    } catch (err) {
      expect(isAppError(err) && err.reason).toBe("policy.waves-over-100");
      expect(isAppError(err) && err.where).toBe("p.yaml:2:32");
    }
  });

  it("a stored version read without the checks still loads", () => {
    expect(loadPolicy(rollout("[{wave: 80%}, {wave: 80%}]"), "p@1", { consistency: false }).name).toBe(
      "unnamed",
    );
  });
});

describe("freezes that end before they start", () => {
  it.each([
    [
      "a range whose end is before its start",
      "freezes:\n  - {name: f, from: '2026-12-20T00:00', to: '2026-12-19T00:00', timezone: UTC}\n",
      "/freezes/0/to",
    ],
    [
      "a range that ends as it starts",
      "freezes:\n  - {name: f, from: '2026-12-20T00:00', to: '2026-12-20T00:00', timezone: UTC}\n",
      "/freezes/0/to",
    ],
    [
      "a recurring freeze of no length",
      "freezes:\n  - {name: f, cron: '0 0 * * FRI', duration: 0, timezone: UTC}\n",
      "/freezes/0/duration",
    ],
    [
      "a recurring freeze of 0m",
      "freezes:\n  - {name: f, cron: '0 0 * * FRI', duration: 0m, timezone: UTC}\n",
      "/freezes/0/duration",
    ],
  ])("%s is refused", (_label, text, path) => {
    const result = validatePolicy(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.path)).toEqual([path]);
  });
});

describe("phases empty at the typical fleet size", () => {
  it("warns from rollout.typicalFleetSize, and a flag overrides it", () => {
    const text = rollout("[{canary: 1}, {wave: 25%}, {wave: 75%}]", "  typicalFleetSize: 3\n");
    const atThree = validatePolicy(text);
    expect(atThree.ok && atThree.warnings.map((w) => w.path)).toEqual(["/rollout/phases/1/wave"]);
    const atForty = validatePolicy(text, "p.yaml", { fleetSize: 40 });
    expect(atForty.ok && atForty.warnings).toEqual([]);
  });

  it("gives no warning without a size", () => {
    const result = validatePolicy(rollout("[{canary: 1}, {wave: 25%}, {wave: 75%}]"));
    expect(result.ok && result.warnings).toEqual([]);
  });

  it.each([
    [1, [1, 0, 0]],
    [2, [1, 0, 1]],
    [4, [1, 0, 3]],
    [5, [1, 1, 3]],
    [100, [1, 24, 75]],
  ])("the built-in phases for %d assets take %j", (size, sizes) => {
    expect(phaseSizes(loadPolicy("{}"), size).map((p) => p.size)).toEqual(sizes);
  });

  it("counts and percentage canaries", () => {
    const policy = loadPolicy(rollout("[{canary: 10%}, {wave: 2}, {wave: 50%}, {wave: 50%}]"));
    expect(phaseSizes(policy, 10).map((p) => p.size)).toEqual([1, 2, 2, 5]);
  });
});
