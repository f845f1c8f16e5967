import { describe, expect, it } from "vitest";
import { testAsset } from "../../test/helpers/assets.js";
import { PolicySchema } from "../policy/schema.js";
import type { PlanPhaseV2, PlanV2 } from "./plan.js";
import { formatPlanTimeline, gateText, summaryLine } from "./plan-format.js";
import { buildPlan } from "./planner.js";

const asset = testAsset;

const fleet = [
  asset("web-1", "web", "eu-west"),
  asset("web-2", "web", "eu-west"),
  asset("web-3", "web", "eu-west"),
  asset("db-1", "db", "us-east"),
  asset("db-2", "db", "us-east"),
  asset("db-3", "db", "us-east"),
  asset("cache-1", "cache", "us-east"),
];

const PATCH = { ecosystem: "Debian", package: "openssl", version: "3.0.15-1~deb12u1", artifactSha256: null };

function phase(extra: Partial<PlanPhaseV2>): PlanPhaseV2 {
  return {
    name: "wave-1",
    kind: "wave",
    ring: null,
    assets: [{ id: "id-a", name: "a" }],
    batches: [["id-a"]],
    start: "2026-11-28T01:00:00Z",
    observeMs: 0,
    failureBudget: 0,
    gates: [{ kind: "health" }, { kind: "failure-budget", max: 0 }],
    ...extra,
  };
}

function handMade(extra: Partial<PlanV2>): PlanV2 {
  const phases = extra.phases ?? [phase({ name: "canary", kind: "canary" })];
  const targets = phases.flatMap((p) =>
    p.assets.map((a) => ({
      ...a,
      environment: "prod",
      group: "g",
      region: "r",
      fromVersion: "1.0-1",
      toVersion: "1.1-1",
    })),
  );
  return {
    version: 2,
    policy: { name: "p", version: 2, hash: "sha256:x" },
    selector: "group=web",
    emergency: false,
    timezone: "UTC",
    createdAt: "2026-11-25T10:00:00Z",
    patch: { ...PATCH, version: "1.1-1" },
    targets,
    skipped: [],
    phases,
    maxUnavailable: { group: { g: 1 }, region: { r: 1 } },
    totalFailureBudget: 0,
    progressDeadlineMs: 7_200_000,
    notifyBeforeMs: 1_800_000,
    rollback: "automatic",
    verification: { healthChecks: [] },
    finalVerification: false,
    schedule: { start: "2026-11-28T01:00:00Z", window: null, reason: "no windows: any time" },
    warnings: [],
    summary: {
      toPatch: targets.length,
      skipped: 0,
      phases: phases.length,
      rings: new Set(phases.map((p) => p.ring)).size,
      earliestStart: "2026-11-28T01:00:00Z",
      estimatedEnd: "2026-11-28T01:05:00Z",
    },
    ...extra,
  };
}

describe("formatPlanTimeline", () => {
  it("prints phases with sizes, local start times and what follows, each asset's from → to, skips and the summary line", () => {
    const policy = PolicySchema.parse({
      name: "default",
      maintenanceWindows: [
        { name: "sat-night", cron: "0 1 * * SAT", duration: "4h", timezone: "Europe/Berlin" },
      ],
      rollout: { maxUnavailable: "50%" },
    });
    const plan = buildPlan({
      assets: fleet,
      installed: new Map([
        ["id-web-1", "3.0.11-1~deb12u2"],
        ["id-web-2", "3.0.11-1~deb12u2"],
        ["id-web-3", "3.0.9-1"],
        ["id-db-1", "3.0.11-1~deb12u2"],
        ["id-db-2", "3.0.11-1~deb12u2"],
        ["id-db-3", "3.0.15-1~deb12u1"],
      ]),
      patch: PATCH,
      policy,
      policyRef: { name: "default", version: 3, hash: "sha256:x" },
      selector: "environment=prod",
      emergency: false,
      now: new Date("2026-11-28T01:00:00+01:00"),
    });
    expect(formatPlanTimeline(plan, "openssl 3.0.15-1~deb12u1")).toBe(
      [
        'Plan for openssl 3.0.15-1~deb12u1 → selector "environment=prod" (policy default v3, Europe/Berlin)',
        'Starts 2026-11-28T01:00:00+01:00 — inside window "sat-night"',
        "  1. canary  1 asset   2026-11-28 01:00             then observe 15m",
        "       web-1  3.0.11-1~deb12u2 → 3.0.15-1~deb12u1",
        "  2. wave-1  1 asset   2026-11-28 01:20             then observe 15m",
        "       db-1   3.0.11-1~deb12u2 → 3.0.15-1~deb12u1",
        "  3. wave-2  3 assets  2026-11-28 01:40  2 batches  then observe 15m, final verification of all 5 assets",
        "       db-2   3.0.11-1~deb12u2 → 3.0.15-1~deb12u1",
        "       web-2  3.0.11-1~deb12u2 → 3.0.15-1~deb12u1",
        "       web-3  3.0.9-1 → 3.0.15-1~deb12u1",
        "Skipped:",
        "       cache-1  not installed",
        "       db-3     up to date (3.0.15-1~deb12u1 installed)",
        "Failure budget: 0 per wave, 0 in total. Each phase must pass within 2h. Rollback: automatic.",
        "Plan: 5 to patch, 2 skipped (1 up-to-date, 1 not installed); 3 phases in 1 ring; earliest start 2026-11-28 01:00; estimated end 2026-11-28 02:05.",
        "",
      ].join("\n"),
    );
  });

  it("prints the start in the plan's zone to the second, however precisely it was stored", () => {
    const plan = handMade({
      timezone: "Europe/Berlin",
      schedule: { start: "2026-12-01T14:09:28.721Z", window: null, reason: "no windows: any time" },
    });
    expect(formatPlanTimeline(plan).split("\n")[1]).toBe(
      "Starts 2026-12-01T15:09:28+01:00 — no windows: any time",
    );
  });

  it("shows ring gates in words, differing budgets and warnings", () => {
    const many = Array.from({ length: 9 }, (_, i) => ({ id: `id-main-${i + 1}`, name: `main-${i + 1}` }));
    const plan = handMade({
      phases: [
        phase({
          name: "mgmt/canary",
          kind: "canary",
          ring: "group=mgmt",
          assets: [{ id: "id-mgmt-1", name: "mgmt-1" }],
          batches: [["id-mgmt-1"]],
          start: "2026-11-28T01:00:00Z",
          observeMs: 900_000,
          gates: [
            { kind: "health" },
            { kind: "failure-budget", max: 0 },
            { kind: "progress-deadline", ms: 7_200_000 },
            { kind: "observation", ms: 900_000 },
            { kind: "soak", ms: 2 * 86_400_000, nextRing: "main" },
            { kind: "exact-promotion", fromRing: "mgmt", toRing: "main" },
          ],
        }),
        phase({
          name: "main/wave-1",
          ring: "group=main",
          assets: many,
          batches: [many.slice(0, 5).map((a) => a.id), many.slice(5).map((a) => a.id)],
          start: "2026-11-30T01:20:00Z",
          failureBudget: 1,
        }),
        phase({
          name: "main/wave-2",
          ring: "group=main",
          start: "2026-11-30T01:30:00Z",
          failureBudget: 2,
          gates: [{ kind: "health" }, { kind: "final-verification" }],
        }),
      ],
      totalFailureBudget: 3,
      warnings: ['ring "group=nothing" matches no asset; skipped'],
    });
    const lines = formatPlanTimeline(plan).split("\n");
    expect(lines.filter((l) => /^ {2}\d/.test(l))).toEqual([
      '  1. mgmt/canary  1 asset   2026-11-28 01:00             then observe 15m, soak 2d before ring "main", ring "main" gets the exact patch that passed ring "mgmt"',
      "  2. main/wave-1  9 assets  2026-11-30 01:20  2 batches",
      "  3. main/wave-2  1 asset   2026-11-30 01:30             then final verification of all 11 assets",
    ]);
    expect(lines.filter((l) => l.startsWith("       ")).length).toBe(11);
    expect(lines.slice(-4)).toEqual([
      "Failure budget: 1–2 per wave, 3 in total. Each phase must pass within 2h. Rollback: automatic.",
      'Warning: ring "group=nothing" matches no asset; skipped',
      "Plan: 11 to patch, 0 skipped; 3 phases in 2 rings; earliest start 2026-11-28 01:00; estimated end 2026-11-28 01:05.",
      "",
    ]);
  });

  it("an unscheduled emergency plan says why it cannot start", () => {
    const plan = handMade({
      emergency: true,
      schedule: {
        start: null,
        window: null,
        reason: "no allowed start within a year of 2026-11-25T10:00:00Z",
      },
      rollback: "manual",
      progressDeadlineMs: 0,
    });
    plan.summary = { ...plan.summary, earliestStart: null, estimatedEnd: null };
    const lines = formatPlanTimeline(plan, "  ").split("\n");
    expect(lines[0]).toBe('Plan for selector "group=web" (policy p v2, UTC, emergency)');
    expect(lines[1]).toBe("Cannot be scheduled — no allowed start within a year of 2026-11-25T10:00:00Z");
    expect(lines.at(-3)).toBe("Failure budget: none per wave, 0 in total. Rollback: manual.");
    expect(lines.at(-2)).toBe(
      "Plan: 1 to patch, 0 skipped; 1 phase in 1 ring; earliest start none; estimated end none.",
    );
    expect(lines.at(-1)).toBe("");
  });

  it("nothing to patch: the skipped assets and a summary of none", () => {
    const plan = buildPlan({
      assets: fleet.slice(0, 2),
      installed: new Map([["id-web-1", "3.0.15-1~deb12u1"]]),
      patch: PATCH,
      policy: PolicySchema.parse({}),
      policyRef: { name: "default", version: 1, hash: "sha256:x" },
      selector: "",
      emergency: false,
      now: new Date("2026-11-28T01:00:00Z"),
    });
    expect(summaryLine(plan)).toBe(
      "Plan: 0 to patch, 2 skipped (1 up-to-date, 1 not installed); 0 phases in 0 rings; earliest start none; estimated end none.",
    );
    expect(formatPlanTimeline(plan)).toContain("Cannot be scheduled — nothing to patch");
  });

  it("more than nine phases keep their columns aligned", () => {
    const phases = Array.from({ length: 10 }, (_, i) => phase({ name: i === 0 ? "canary" : `wave-${i}` }));
    const rows = formatPlanTimeline(handMade({ phases }))
      .split("\n")
      .filter((l) => /^\s+\d+\./.test(l));
    expect(rows[0]).toMatch(/^ {2}1\. {2}canary/);
    expect(rows[9]).toMatch(/^ {2}10\. wave-9/);
    expect(new Set(rows.map((r) => r.indexOf("2026-")))).toEqual(new Set([rows[0]?.indexOf("2026-")]));
  });
});

describe("gateText", () => {
  const plan = { summary: { toPatch: 1 } } as Pick<PlanV2, "summary">;
  it.each([
    [{ kind: "health" }, "health checks pass on every asset of the phase"],
    [{ kind: "failure-budget", max: 2 }, "failures ≤ 2"],
    [{ kind: "observation", ms: 90_000 }, "observe 1m30s"],
    [{ kind: "soak", ms: 3_600_000, nextRing: "prod" }, 'soak 1h before ring "prod"'],
    [
      { kind: "exact-promotion", fromRing: "staging", toRing: "prod" },
      'ring "prod" gets the exact patch that passed ring "staging"',
    ],
    [{ kind: "final-verification" }, "final verification of the asset"],
    [{ kind: "progress-deadline", ms: 7_200_000 }, "passes within 2h of its start"],
  ] as const)("%j", (gate, words) => {
    expect(gateText(gate, plan)).toBe(words);
  });
});
