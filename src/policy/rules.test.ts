import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./default-policy.js";
import { loadPolicy } from "./loader.js";
import { approvalRuleFor, classify, rolloutPlan, slaFor } from "./rules.js";

describe("classify", () => {
  it.each([
    [{ knownExploited: true, score: 3 }, "emergency"],
    [{ score: 9.8 }, "emergency"],
    [{ score: 7.5 }, "high"],
    [{ score: 4 }, "routine"],
    [{}, "routine"],
  ] as const)("%j → %s", (facts, cls) => {
    expect(classify(DEFAULT_POLICY, facts)).toBe(cls);
  });
});

describe("slaFor", () => {
  const policy = loadPolicy(
    'classification:\n  overrides: [{selector: "exposure=internet", sla: {high: 3d}}]\n',
  );
  it.each([
    ["emergency", false, 0],
    ["high", false, 7 * 86_400_000],
    ["high", true, 3 * 86_400_000],
    ["routine", true, "next-window"],
  ] as const)("%s (internet-facing: %s)", (cls, internet, sla) => {
    expect(slaFor(policy, cls, (s) => internet && s === "exposure=internet")).toBe(sla);
  });
});

describe("approvalRuleFor", () => {
  const policy = loadPolicy(`approvals:
  required: 2
  rules:
    - {class: emergency, required: 0, postReviewWithin: 24h, justificationRequired: true}
    - {class: emergency, environment: prod, required: 1, postReviewWithin: 12h}
    - {environment: dev, required: 0}
`);
  it.each([
    ["routine", "prod", { required: 2 }],
    ["emergency", "staging", { required: 0, postReviewWithinMs: 86_400_000, justificationRequired: true }],
    ["emergency", "prod", { required: 1, postReviewWithinMs: 43_200_000 }],
    ["high", "dev", { required: 0 }],
  ] as const)("%s in %s", (cls, env, expected) => {
    expect(approvalRuleFor(policy, cls, env)).toMatchObject(expected);
  });

  it("the default policy: CAB of one, emergency fast path", () => {
    expect(approvalRuleFor(DEFAULT_POLICY, "routine")).toMatchObject({
      required: 1,
      separationOfDuties: true,
    });
    expect(approvalRuleFor(DEFAULT_POLICY, "emergency")).toMatchObject({
      required: 0,
      postReviewWithinMs: 86_400_000,
      justificationRequired: true,
    });
  });
});

describe("rolloutPlan", () => {
  it("reads phases, amounts and durations", () => {
    const policy = loadPolicy(`rollout:
  phases: [{canary: "role=canary"}, {wave: 10, observe: 1h}, {wave: 100%}]
  maxUnavailable: 3
  failureBudget: {perWave: 10%, total: 2}
`);
    expect(rolloutPlan(policy)).toMatchObject({
      phases: [
        { kind: "canary", selector: "role=canary", observeMs: 900_000 },
        { kind: "wave", amount: { kind: "count", value: 10 }, observeMs: 3_600_000 },
        { kind: "wave", amount: { kind: "percent", value: 100 }, observeMs: 900_000 },
      ],
      maxUnavailable: { kind: "count", value: 3 },
      failureBudget: { perWave: { kind: "percent", value: 10 }, total: { kind: "count", value: 2 } },
      rollback: "automatic",
      snapshotRequired: true,
      notifyBeforeMs: 1_800_000,
    });
  });

  it("the default policy: canary of one, then 25% and 75%", () => {
    expect(rolloutPlan(DEFAULT_POLICY).phases).toEqual([
      { kind: "canary", amount: { kind: "count", value: 1 }, observeMs: 900_000 },
      { kind: "wave", amount: { kind: "percent", value: 25 }, observeMs: 900_000 },
      { kind: "wave", amount: { kind: "percent", value: 75 }, observeMs: 900_000 },
    ]);
  });
});
