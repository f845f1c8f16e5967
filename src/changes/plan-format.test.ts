import { describe, expect, it } from "vitest";
import { testAsset } from "../../test/helpers/assets.js";
import { PolicySchema } from "../policy/schema.js";
import type { Plan, PlanPhase } from "./plan.js";
import { formatPlanTimeline } from "./plan-format.js";
import { buildPlan } from "./planner.js";

const asset = testAsset;

const fleet = [
  asset("web-1", "web", "eu-west"),
  asset("web-2", "web", "eu-west"),
  asset("web-3", "web", "eu-west"),
  asset("db-1", "db", "us-east"),
  asset("db-2", "db", "us-east"),
];

function phase(extra: Partial<PlanPhase>): PlanPhase {
  return {
    name: "wave-1",
    kind: "wave",
    ring: null,
    assets: ["a"],
    batches: [["a"]],
    start: "2026-11-28T01:00:00Z",
    observeMs: 0,
    failureBudget: 0,
    gates: ["health checks pass on every asset of the phase", "failures ≤ 0"],
    ...extra,
  };
}

function handMade(extra: Partial<Plan>): Plan {
  return {
    version: 1,
    policy: { name: "p", version: 2, hash: "sha256:x" },
    selector: "group=web",
    emergency: false,
    timezone: "UTC",
    createdAt: "2026-11-25T10:00:00Z",
    phases: [phase({ name: "canary", kind: "canary" })],
    totalFailureBudget: 0,
    schedule: { start: "2026-11-28T01:00:00Z", window: null, reason: "no windows: any time" },
    warnings: [],
    ...extra,
  };
}

describe("formatPlanTimeline", () => {
  it("prints phases with sizes, local start times, assets, batches and what follows", () => {
    const policy = PolicySchema.parse({
      name: "default",
      maintenanceWindows: [
        { name: "sat-night", cron: "0 1 * * SAT", duration: "4h", timezone: "Europe/Berlin" },
      ],
      rollout: { maxUnavailable: "50%" },
    });
    const plan = buildPlan({
      assets: fleet,
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
        "  1. canary  1 asset   2026-11-28 01:00  web-1                           then observe 15m",
        "  2. wave-1  1 asset   2026-11-28 01:20  db-1                            then observe 15m",
        "  3. wave-2  3 assets  2026-11-28 01:40  db-2, web-2, web-3 (2 batches)  then observe 15m, final verification of all 5 assets",
        "Failure budget: 0 per wave, 0 in total. Rollback: automatic.",
        "",
      ].join("\n"),
    );
  });

  it("shows ring gates, long asset lists shortened, differing budgets and warnings", () => {
    const many = Array.from({ length: 9 }, (_, i) => `main-${i + 1}`);
    const plan = handMade({
      phases: [
        phase({
          name: "mgmt/canary",
          kind: "canary",
          ring: "group=mgmt",
          assets: ["mgmt-1"],
          start: "2026-11-28T01:00:00Z",
          observeMs: 900_000,
          gates: [
            "health checks pass on every asset of the phase",
            "observe 15m",
            "failures ≤ 0 (a failed canary stops the rollout)",
            'soak 2d before ring "main"',
            'ring "main" gets the exact patch set that passed ring "mgmt"',
          ],
        }),
        phase({
          name: "main/wave-1",
          ring: "group=main",
          assets: many,
          batches: [many.slice(0, 5), many.slice(5)],
          start: "2026-11-30T01:20:00Z",
          failureBudget: 1,
        }),
        phase({ name: "main/wave-2", ring: "group=main", start: "2026-11-30T01:30:00Z", failureBudget: 2 }),
      ],
      totalFailureBudget: 3,
      warnings: ['ring "group=nothing" matches no asset; skipped'],
    });
    const lines = formatPlanTimeline(plan).split("\n");
    expect(lines).toEqual([
      'Plan for selector "group=web" (policy p v2, UTC)',
      "Starts 2026-11-28T01:00:00Z — no windows: any time",
      expect.stringMatching(
        /^ {2}1\. mgmt\/canary {2}1 asset {3}2026-11-28 01:00 {2}mgmt-1 +then observe 15m, soak 2d before ring "main", ring "main" gets the exact patch set that passed ring "mgmt"$/,
      ),
      "  2. main/wave-1  9 assets  2026-11-30 01:20  main-1, main-2, main-3, main-4, main-5, main-6, … 3 more (2 batches)",
      "  3. main/wave-2  1 asset   2026-11-30 01:30  a",
      "Failure budget: 1–2 per wave, 3 in total.",
      'Warning: ring "group=nothing" matches no asset; skipped',
      "",
    ]);
    // The "then" column starts two spaces after the longest asset list.
    expect(lines[2]?.indexOf("then")).toBe((lines[3]?.length ?? 0) + 2);
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
    });
    const lines = formatPlanTimeline(plan, "  ").split("\n");
    expect(lines[0]).toBe('Plan for selector "group=web" (policy p v2, UTC, emergency)');
    expect(lines[1]).toBe("Cannot be scheduled — no allowed start within a year of 2026-11-25T10:00:00Z");
    expect(lines.at(-2)).toBe("Failure budget: none per wave, 0 in total. Rollback: manual.");
    expect(lines.at(-1)).toBe("");
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
