import { describe, expect, it } from "vitest";
import { PolicySchema } from "../policy/schema.js";
import type { PlanV1 } from "./plan.js";
import { readPlan, versionOneAssetNames } from "./plan-read.js";

/** A plan as the version-1 planner stored it: assets by name, gates in words. */
const V1_PLAN: PlanV1 = {
  version: 1,
  policy: { name: "default", version: 1, hash: "sha256:p" },
  selector: "group in (mgmt,main)",
  emergency: false,
  timezone: "UTC",
  createdAt: "2026-11-20T10:00:00Z",
  phases: [
    {
      name: "mgmt/canary",
      kind: "canary",
      ring: "group=mgmt",
      assets: ["mgmt-1"],
      batches: [["mgmt-1"]],
      start: "2026-11-20T10:00:00Z",
      observeMs: 900_000,
      failureBudget: 0,
      gates: [
        "health checks pass on every asset of the phase",
        "observe 15m",
        "failures ≤ 0 (a failed canary stops the rollout)",
        'soak 2d before ring "main"',
        'ring "main" gets the exact patch set that passed ring "mgmt"',
      ],
    },
    {
      name: "main/wave-1",
      kind: "wave",
      ring: "group=main",
      assets: ["main-1", "main-2", "main-3"],
      batches: [["main-1", "main-3"], ["main-2"]],
      start: "2026-11-22T10:20:00Z",
      observeMs: 0,
      failureBudget: 1,
      gates: [
        "health checks pass on every asset of the phase",
        "failures ≤ 1",
        "final verification of all 4 assets",
      ],
    },
  ],
  totalFailureBudget: 1,
  schedule: { start: "2026-11-20T10:00:00Z", window: null, reason: "no windows: any time" },
  warnings: [],
  rollback: "manual",
};

const PATCH = {
  ecosystem: "Debian",
  package: "openssl",
  version: "3.0.15-1",
  artifactSha256: "ab".repeat(32),
};

const known = (id: string, group: string, installedVersion: string | null) => ({
  id,
  environment: "prod",
  group,
  region: "eu",
  installedVersion,
});

describe("readPlan", () => {
  it("a version-2 plan reads back as stored", () => {
    const upgraded = readPlan(JSON.stringify(V1_PLAN), { patch: PATCH });
    expect(readPlan(JSON.stringify(upgraded))).toEqual(upgraded);
  });

  it("upgrades a version-1 plan: ids looked up, gates as data, the pinned policy's settings", () => {
    const assets = new Map([
      ["mgmt-1", known("a-m1", "mgmt", "3.0.11-1")],
      ["main-1", known("a-1", "main", "3.0.11-1")],
      ["main-2", known("a-2", "main", null)],
      ["main-3", known("a-3", "main", "3.0.9-1")],
    ]);
    const policy = PolicySchema.parse({
      rollout: { progressDeadline: "1h", notifyBefore: "0s", maxUnavailable: 2 },
      verification: { healthChecks: [{ name: "up", command: ["true"] }] },
    });
    const plan = readPlan(JSON.stringify(V1_PLAN), { patch: PATCH, assets, policy });
    expect(plan.version).toBe(2);
    expect(plan.patch).toEqual(PATCH);
    expect(plan.phases.map((p) => p.assets)).toEqual([
      [{ id: "a-m1", name: "mgmt-1" }],
      [
        { id: "a-1", name: "main-1" },
        { id: "a-3", name: "main-3" },
        { id: "a-2", name: "main-2" },
      ],
    ]);
    expect(plan.phases[1]?.batches).toEqual([["a-1", "a-3"], ["a-2"]]);
    expect(plan.phases[0]?.gates).toEqual([
      { kind: "health" },
      { kind: "failure-budget", max: 0 },
      { kind: "progress-deadline", ms: 3_600_000 },
      { kind: "observation", ms: 900_000 },
      { kind: "soak", ms: 2 * 86_400_000, nextRing: "main" },
      { kind: "exact-promotion", fromRing: "mgmt", toRing: "main" },
    ]);
    expect(plan.phases[1]?.gates).toEqual([
      { kind: "health" },
      { kind: "failure-budget", max: 1 },
      { kind: "progress-deadline", ms: 3_600_000 },
      { kind: "final-verification" },
    ]);
    expect(plan.targets.map((t) => [t.id, t.group, t.fromVersion, t.toVersion])).toEqual([
      ["a-m1", "mgmt", "3.0.11-1", "3.0.15-1"],
      ["a-1", "main", "3.0.11-1", "3.0.15-1"],
      ["a-3", "main", "3.0.9-1", "3.0.15-1"],
      ["a-2", "main", "", "3.0.15-1"],
    ]);
    expect(plan).toMatchObject({
      skipped: [],
      maxUnavailable: { group: { main: 2, mgmt: 2 }, region: { eu: 2 } },
      totalFailureBudget: 1,
      progressDeadlineMs: 3_600_000,
      notifyBeforeMs: 0,
      rollback: "manual",
      finalVerification: true,
      verification: { healthChecks: [{ name: "up", command: ["true"] }] },
      warnings: [],
      summary: {
        toPatch: 4,
        skipped: 0,
        phases: 2,
        rings: 2,
        earliestStart: "2026-11-20T10:00:00Z",
        estimatedEnd: "2026-11-22T10:30:00Z",
      },
    });
  });

  it("without the assets' ids, their names stand in, with a warning; the limits are the strictest", () => {
    const plan = readPlan(JSON.stringify(V1_PLAN), { patch: PATCH });
    expect(plan.targets.map((t) => t.id)).toEqual(["mgmt-1", "main-1", "main-3", "main-2"]);
    expect(plan.warnings).toEqual([
      "version-1 plan: no asset id known for 4 asset(s) (mgmt-1, main-1, main-3, main-2); their names stand in for ids",
    ]);
    // Unknown placement is one group and one region: the default 25% of 4 rounds down to 1.
    expect(plan.maxUnavailable).toEqual({ group: { "": 1 }, region: { "": 1 } });
    // The schema's defaults stand in for the policy.
    expect(plan).toMatchObject({ progressDeadlineMs: 7_200_000, notifyBeforeMs: 1_800_000 });
  });

  it("names the assets of a version-1 plan, and of nothing else", () => {
    expect(versionOneAssetNames(JSON.stringify(V1_PLAN))).toEqual(["mgmt-1", "main-1", "main-2", "main-3"]);
    expect(versionOneAssetNames(JSON.stringify({ version: 2, phases: [] }))).toBeNull();
    expect(versionOneAssetNames("{")).toBeNull();
  });

  it.each([
    ["not JSON", "{"],
    ["not a plan", "[1, 2]"],
    ["an unknown version", JSON.stringify({ version: 3, phases: [] })],
  ])("%s: plan.unreadable", (_what, text) => {
    expect(() => readPlan(text)).toThrow(expect.objectContaining({ reason: "plan.unreadable" }));
  });
});
