import { describe, expect, it } from "vitest";
import { buildPlanV2 } from "../../test/helpers/plans.js";
import type { PlanGate, PlanGateKind } from "../changes/plan.js";
import "./index.js";
import type { GateInput } from "./gate.js";
import { evaluateGate, registeredGateKinds } from "./registry.js";

// One example of every kind: the `satisfies` makes adding a kind to PlanGate without an entry here a type error.
const EXAMPLES = {
  health: { kind: "health" },
  "failure-budget": { kind: "failure-budget", max: 1 },
  observation: { kind: "observation", ms: 60_000 },
  soak: { kind: "soak", ms: 60_000, nextRing: "prod" },
  "exact-promotion": { kind: "exact-promotion", fromRing: "staging", toRing: "prod" },
  "final-verification": { kind: "final-verification" },
  "progress-deadline": { kind: "progress-deadline", ms: 60_000 },
} as const satisfies { [K in PlanGateKind]: Extract<PlanGate, { kind: K }> };

const NOW = new Date("2026-03-01T12:00:00.000Z");
const plan = buildPlanV2({
  targets: [{ name: "h1" }, { name: "h2" }, { name: "h3" }],
  phases: [{ assets: ["h1"] }, { assets: ["h2", "h3"], failureBudget: 1 }],
  totalFailureBudget: 1,
});

type Asset = GateInput["assets"][number];
const asset = (name: string, phaseIdx: number, over: Partial<Asset> = {}): Asset => ({
  id: `id-${name}`,
  name,
  phaseIdx,
  state: "done",
  verified: true,
  heartbeating: true,
  finishedAt: "2026-03-01T11:00:00.000Z",
  verification: null,
  ...over,
});

function input(over: Partial<GateInput> = {}, phase: Partial<GateInput["phase"]> = {}): GateInput {
  return {
    plan,
    phaseIdx: 1,
    phase: {
      state: "running",
      startedAt: "2026-03-01T11:59:30.000Z",
      observeUntil: null,
      finishedAt: null,
      promoted: false,
      pausedMs: 0,
      ...phase,
    },
    assets: [asset("h1", 0), asset("h2", 1), asset("h3", 1)],
    now: NOW,
    ...over,
  };
}

describe("gate evaluators (contract over every plan gate kind)", () => {
  it("every PlanGate kind has a registered evaluator", () => {
    expect(new Set(registeredGateKinds())).toEqual(new Set(Object.keys(EXAMPLES)));
  });

  it.each(Object.values(EXAMPLES))(
    "$kind answers with its kind, a status, a reason and the instant",
    async (gate) => {
      const result = await evaluateGate(gate, input());
      expect(result.kind).toBe(gate.kind);
      expect(["pass", "fail", "wait"]).toContain(result.status);
      expect(result.reason.length).toBeGreaterThan(0);
      expect(result.evaluatedAt).toBe(NOW.toISOString());
    },
  );
});

describe("gate verdicts", () => {
  it.each([
    ["every asset verified", [asset("h2", 1), asset("h3", 1)], "pass"],
    ["one still applying", [asset("h2", 1), asset("h3", 1, { state: "applying", verified: false })], "wait"],
    ["one stopped heartbeating", [asset("h2", 1), asset("h3", 1, { heartbeating: false })], "fail"],
    [
      "a failed one is the budget's",
      [asset("h2", 1), asset("h3", 1, { state: "failed", verified: false })],
      "pass",
    ],
  ] as const)("health: %s → %s", async (_what, assets, status) => {
    expect((await evaluateGate({ kind: "health" }, input({ assets: [...assets] }))).status).toBe(status);
  });

  it.each([
    ["none failed", 0, 0, "pass"],
    ["one failed within budget", 1, 1, "pass"],
    ["two failed over budget 1", 2, 1, "fail"],
  ] as const)("failure-budget: %s → %s", async (_what, failed, max, status) => {
    const assets = [
      asset("h1", 0),
      ...Array.from({ length: failed }, (_, i) => asset(`f${i}`, 1, { state: "failed" })),
    ];
    expect((await evaluateGate({ kind: "failure-budget", max }, input({ assets }))).status).toBe(status);
  });

  it("failure-budget: the plan's total budget counts every phase", async () => {
    const assets = [asset("h1", 0, { state: "failed" }), asset("h2", 1, { state: "failed" })];
    const result = await evaluateGate({ kind: "failure-budget", max: 5 }, input({ assets }));
    expect(result).toMatchObject({ status: "fail", reason: "2 failed in the rollout, total budget 1" });
  });

  it.each([
    ["not observing yet", { state: "running" }, "wait"],
    ["observing", { state: "observing", observeUntil: "2026-03-01T12:01:00.000Z" }, "wait"],
    ["observed", { state: "observing", observeUntil: "2026-03-01T12:00:00.000Z" }, "pass"],
    ["promoted", { state: "observing", observeUntil: "2026-03-01T13:00:00.000Z", promoted: true }, "pass"],
  ] as const)("observation: %s → %s", async (_what, phase, status) => {
    expect((await evaluateGate(EXAMPLES.observation, input({}, phase))).status).toBe(status);
  });

  it.each([
    ["not passed", { state: "observing" }, "wait"],
    ["soaking", { state: "passed", finishedAt: "2026-03-01T11:59:30.000Z" }, "wait"],
    ["soaked", { state: "passed", finishedAt: "2026-03-01T11:59:00.000Z" }, "pass"],
  ] as const)("soak: %s → %s", async (_what, phase, status) => {
    expect((await evaluateGate(EXAMPLES.soak, input({}, phase))).status).toBe(status);
  });

  it.each([
    ["within the deadline", {}, "pass"],
    ["past it", { startedAt: "2026-03-01T11:58:00.000Z" }, "fail"],
    ["past it but paused long enough", { startedAt: "2026-03-01T11:58:00.000Z", pausedMs: 70_000 }, "pass"],
    ["observing", { state: "observing", startedAt: "2026-03-01T10:00:00.000Z" }, "pass"],
  ] as const)("progress-deadline: %s → %s", async (_what, phase, status) => {
    expect((await evaluateGate(EXAMPLES["progress-deadline"], input({}, phase))).status).toBe(status);
  });

  it.each([
    ["none verified yet", [asset("h1", 0), asset("h2", 1, { verification: "pending" })], "wait"],
    [
      "all verified",
      [asset("h1", 0, { verification: "passed" }), asset("h2", 1, { verification: "passed" })],
      "pass",
    ],
    [
      "one failed",
      [asset("h1", 0, { verification: "passed" }), asset("h2", 1, { verification: "failed" })],
      "fail",
    ],
  ] as const)("final-verification: %s → %s", async (_what, assets, status) => {
    expect((await evaluateGate(EXAMPLES["final-verification"], input({ assets: [...assets] }))).status).toBe(
      status,
    );
  });

  it("exact-promotion names what the next ring gets", async () => {
    const result = await evaluateGate(EXAMPLES["exact-promotion"], input());
    expect(result).toMatchObject({ status: "pass", reason: "ring prod gets demo-svc 1.1-1, as staging did" });
  });
});
