import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { testAsset } from "../../test/helpers/assets.js";
import { ValidationError } from "../domain/errors.js";
import type { Asset } from "../domain/inventory.js";
import { matchesSelector, parseSelector, selectorView } from "../domain/selector.js";
import { debScheme } from "../ecosystems/deb/deb-scheme.js";
import { checkStart } from "../policy/calendar.js";
import { DEFAULT_POLICY } from "../policy/default-policy.js";
import { type Phase, type Policy, type PolicyInput, PolicySchema } from "../policy/schema.js";
import type { PlanInput, PlanPatch, PlanPhaseV2, PlanV2 } from "./plan.js";
import { buildPlan, ESTIMATED_BATCH_MS } from "./planner.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const asset = testAsset;

/** `count` assets named `${prefix}-01`… in one group, alternating over `regions`. */
function hosts(prefix: string, group: string, count: number, regions = ["eu-west"]): Asset[] {
  return Array.from({ length: count }, (_, i) =>
    asset(`${prefix}-${String(i + 1).padStart(2, "0")}`, group, regions[i % regions.length]),
  );
}

const policyOf = (input: PolicyInput): Policy => PolicySchema.parse(input);

const PATCH: PlanPatch = {
  ecosystem: "Debian",
  package: "openssl",
  version: "3.0.15-1~deb12u1",
  artifactSha256: "ab".repeat(32),
};
const OLD = "3.0.11-1~deb12u2";

/** Every asset has the package below the patch's version: every one is a target. */
const allOld = (assets: readonly Asset[]) => new Map(assets.map((a) => [a.id, OLD]));

type Plan = PlanV2;

function plan(assets: Asset[], policy: Policy, extra: Partial<PlanInput> = {}): Plan {
  return buildPlan({
    assets,
    installed: allOld(assets),
    patch: PATCH,
    policy,
    policyRef: { name: policy.name, version: 1, hash: "sha256:test" },
    selector: "environment=prod",
    emergency: false,
    now: new Date("2026-11-25T10:00:00Z"),
    ...extra,
  });
}

const sizes = (p: Plan) => p.phases.map((ph) => ph.assets.length);
const names = (p: Plan) => p.phases.map((ph) => ph.name);
/** A phase's asset names, sorted. */
const members = (ph: PlanPhaseV2 | undefined) => (ph?.assets ?? []).map((a) => a.name).sort();
const gateKinds = (ph: PlanPhaseV2 | undefined) => (ph?.gates ?? []).map((g) => g.kind);

describe("the SOP default policy: canary 1 → 25% → 75%, observe 15m", () => {
  it.each([
    [1, [1]],
    [2, [1, 1]],
    [4, [1, 3]],
    [8, [1, 1, 6]],
    [10, [1, 2, 7]],
    [100, [1, 24, 75]],
    [200, [1, 49, 150]],
  ])("%i assets → phases of %j", (count, expected) => {
    const assets = [
      ...hosts("web", "web", Math.ceil(count / 2)),
      ...hosts("api", "api", Math.floor(count / 2)),
    ];
    const p = plan(assets, DEFAULT_POLICY);
    expect(sizes(p)).toEqual(expected);
    expect(p.phases[0]?.kind).toBe("canary");
    expect(names(p)).toEqual(["canary", "wave-1", "wave-2"].slice(0, expected.length));
    expect(
      p.phases.every(
        (ph) =>
          ph.observeMs === 15 * MIN && ph.gates.some((g) => g.kind === "observation" && g.ms === 15 * MIN),
      ),
    ).toBe(true);
    expect(p.phases.every((ph) => ph.ring === null && ph.failureBudget === 0)).toBe(true);
    expect(p.totalFailureBudget).toBe(0);
    expect(p.rollback).toBe("automatic");
  });

  it("no windows: starts now, in UTC, then each phase after its batches and observation", () => {
    const assets = [...hosts("web", "web", 4), ...hosts("api", "api", 4)];
    const p = plan(assets, DEFAULT_POLICY);
    expect(p.timezone).toBe("UTC");
    expect(p.schedule).toEqual({
      start: "2026-11-25T10:00:00Z",
      window: null,
      reason: "no windows: any time",
    });
    expect(p.phases.map((ph) => ph.start)).toEqual([
      "2026-11-25T10:00:00Z",
      "2026-11-25T10:20:00Z", // 1 batch × 5m + 15m
      "2026-11-25T10:40:00Z",
    ]);
    // 25% of each group of 4 and of the region of 8: at most 1 web, 1 api, 2 in eu-west per batch.
    expect(p.phases[2]?.batches.length).toBe(3);
    expect(p.phases.at(-1)?.gates).toContainEqual({ kind: "final-verification" });
    expect(p.finalVerification).toBe(true);
    expect(p.createdAt).toBe("2026-11-25T10:00:00Z");
    expect(p.warnings).toEqual([]);
    // Plain JSON: a stored plan reads back the same.
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it("gates as data: health, budget, deadline and observation per phase; final verification last", () => {
    const p = plan([...hosts("web", "web", 4)], DEFAULT_POLICY);
    expect(p.phases[0]?.gates).toEqual([
      { kind: "health" },
      { kind: "failure-budget", max: 0 },
      { kind: "progress-deadline", ms: 2 * HOUR },
      { kind: "observation", ms: 15 * MIN },
    ]);
    expect(p.phases[1]?.gates).toEqual([
      { kind: "health" },
      { kind: "failure-budget", max: 0 },
      { kind: "progress-deadline", ms: 2 * HOUR },
      { kind: "observation", ms: 15 * MIN },
      { kind: "final-verification" },
    ]);
    expect(p).toMatchObject({
      progressDeadlineMs: 2 * HOUR,
      notifyBeforeMs: 30 * MIN,
      rollback: "automatic",
      finalVerification: true,
      verification: { healthChecks: [] },
      patch: PATCH,
    });
  });

  it("no final verification and no observation when the policy turns them off", () => {
    const policy = policyOf({ rollout: { observe: "0", finalVerification: false, progressDeadline: "30m" } });
    const p = plan([...hosts("web", "web", 4)], policy);
    expect(p.phases.map(gateKinds)).toEqual([
      ["health", "failure-budget", "progress-deadline"],
      ["health", "failure-budget", "progress-deadline"],
    ]);
    expect(p.finalVerification).toBe(false);
    expect(p.progressDeadlineMs).toBe(30 * MIN);
  });
});

describe("canary selection", () => {
  it("a pinned label takes the matching assets", () => {
    const policy = policyOf({ rollout: { phases: [{ canary: "role=canary" }, { wave: "100%" }] } });
    const assets = [
      ...hosts("web", "web", 5),
      asset("web-canary", "web", "eu-west", { labels: { role: "canary" } }),
      asset("api-canary", "api", "us-east", { labels: { role: "canary" } }),
      ...hosts("api", "api", 3),
    ];
    const p = plan(assets, policy);
    expect(p.phases[0]).toMatchObject({ name: "canary", kind: "canary" });
    expect(members(p.phases[0])).toEqual(["api-canary", "web-canary"]);
    expect(p.warnings).toEqual([]);
  });

  it("a pinned label that matches nothing falls back to one spread pick, with a warning", () => {
    const policy = policyOf({ rollout: { phases: [{ canary: "role=canary" }, { wave: "100%" }] } });
    const p = plan(hosts("web", "web", 3), policy);
    expect(sizes(p)).toEqual([1, 2]);
    expect(p.warnings).toEqual(['canary selector "role=canary" matches no asset; picked 1 asset instead']);
  });

  it("never the only asset of its group when another group offers a choice", () => {
    const assets = [asset("db-1", "db"), asset("cache-1", "cache"), ...hosts("web", "web", 3)];
    const p = plan(assets, DEFAULT_POLICY);
    expect(members(p.phases[0])).toEqual(["web-01"]);
    expect(p.warnings).toEqual([]);
  });

  it("every group has one asset: allowed, with a warning", () => {
    const assets = [asset("db-1", "db"), asset("cache-1", "cache"), asset("web-1", "web")];
    const p = plan(assets, DEFAULT_POLICY);
    expect(members(p.phases[0])).toEqual(["cache-1"]);
    expect(p.warnings).toEqual([
      'canary "cache-1" leaves no other asset of group "cache" outside the canary: no group offered a choice',
    ]);
  });

  it("several canaries spread across regions and groups, less critical first", () => {
    const policy = policyOf({ rollout: { phases: [{ canary: 3 }, { wave: "100%" }] } });
    const assets = [
      ...hosts("web", "web", 6, ["eu-west", "us-east"]),
      ...hosts("api", "api", 6, ["eu-west", "us-east"]),
      asset("api-07", "api", "ap-south", { criticality: 1 }),
    ];
    const p = plan(assets, policy);
    const picked = assets.filter((a) => members(p.phases[0]).includes(a.name));
    expect(new Set(picked.map((a) => a.region)).size).toBe(3);
    expect(new Set(picked.map((a) => a.group)).size).toBe(2);
    expect(members(p.phases[0])).toContain("api-07");
  });

  it("a canary by percent of the first ring, rounded up", () => {
    const policy = policyOf({ rollout: { phases: [{ canary: "5%" }, { wave: "100%" }] } });
    expect(sizes(plan(hosts("web", "web", 41), policy))).toEqual([3, 38]);
  });

  it("a policy without a canary phase still starts with one canary, and says so", () => {
    const policy = policyOf({ rollout: { phases: [{ wave: "50%" }, { wave: "50%" }] } });
    const p = plan(hosts("web", "web", 10), policy);
    expect(p.phases.map((ph) => [ph.kind, ph.assets.length])).toEqual([
      ["canary", 1],
      ["wave", 4],
      ["wave", 5],
    ]);
    expect(p.warnings).toEqual(["the policy names no canary phase: 1 asset is the canary"]);
  });
});

describe("waves", () => {
  it.each<[string, Phase[], number, number[]]>([
    ["counts", [{ canary: 1 }, { wave: 10 }, { wave: 20 }], 100, [1, 10, 89]],
    [
      "a count then a share of the whole",
      [{ canary: 1 }, { wave: 10 }, { wave: "25%" }, { wave: "75%" }],
      100,
      [1, 10, 14, 75],
    ],
    [
      "a count then shares",
      [{ canary: 2 }, { wave: 3 }, { wave: "50%" }, { wave: "50%" }],
      20,
      [2, 3, 5, 10],
    ],
    [
      "a last share below 100% still takes the rest",
      [{ canary: 1 }, { wave: "10%" }, { wave: "10%" }],
      50,
      [1, 4, 45],
    ],
    ["empty waves are dropped", [{ canary: 1 }, { wave: "1%" }, { wave: "2%" }, { wave: "97%" }], 10, [1, 9]],
    ["only a canary: the rest in one wave", [{ canary: 1 }], 5, [1, 4]],
  ])("%s", (_what, phases, count, expected) => {
    const p = plan(hosts("web", "web", count), policyOf({ rollout: { phases } }));
    expect(sizes(p)).toEqual(expected);
    expect(names(p).slice(1)).toEqual(expected.slice(1).map((_, i) => `wave-${i + 1}`));
  });

  it("a policy without waves: one wave per ring after the canary, and a warning", () => {
    const p = plan(hosts("web", "web", 5), policyOf({ rollout: { phases: [{ canary: 1 }] } }));
    expect(sizes(p)).toEqual([1, 4]);
    expect(p.warnings).toEqual([
      "the policy names no wave: the assets after the canary go in one wave per ring",
    ]);
  });

  it("a wave holds about its share of every group", () => {
    const assets = [...hosts("web", "web", 60), ...hosts("api", "api", 20), ...hosts("db", "db", 20)];
    const wave1 = plan(assets, DEFAULT_POLICY).phases[1];
    const count = (g: string) => members(wave1).filter((n) => n.startsWith(g)).length;
    expect(wave1?.assets.length).toBe(24);
    expect([count("web"), count("api"), count("db")]).toEqual([14, 5, 5]);
  });
});

describe("max unavailable per group and per region", () => {
  it.each<[number | string, number, string[], number]>([
    [2, 10, ["eu"], 5],
    ["50%", 10, ["eu"], 2],
    ["10%", 10, ["eu"], 10],
    ["1%", 4, ["eu"], 4], // rounds down to 0, at least 1
    [3, 9, ["eu", "us", "ap"], 3], // 3 per region, and at most 3 of the group
  ])("maxUnavailable %s, a wave of %i in %j: %i batches", (max, size, regions, batches) => {
    const policy = policyOf({ rollout: { phases: [{ canary: 1 }, { wave: "100%" }], maxUnavailable: max } });
    // Group and region sizes count the canary too: the fleet is one larger than the wave.
    const p = plan(hosts("web", "web", size + 1, regions), policy);
    expect(p.phases[1]?.assets.length).toBe(size);
    expect(p.phases[1]?.batches.length).toBe(batches);
  });

  it("a region shared by two groups is limited as a whole", () => {
    const policy = policyOf({ rollout: { phases: [{ canary: 1 }, { wave: "100%" }], maxUnavailable: 2 } });
    const assets = [...hosts("web", "web", 5), ...hosts("api", "api", 5)];
    const p = plan(assets, policy);
    for (const batch of p.phases[1]?.batches ?? []) expect(batch.length).toBeLessThanOrEqual(2);
  });
});

describe("failure budgets", () => {
  it("per wave as a share of the wave, capped by the total, rounded down", () => {
    const policy = policyOf({ rollout: { failureBudget: { perWave: "10%", total: 5 } } });
    const p = plan(hosts("web", "web", 100), policy);
    expect(p.phases.map((ph) => ph.failureBudget)).toEqual([0, 2, 5]);
    expect(p.totalFailureBudget).toBe(5);
    expect(p.phases[2]?.gates).toContainEqual({ kind: "failure-budget", max: 5 });
  });
});

describe("ordering", () => {
  const policy = policyOf({
    ordering: [{ selector: "group=mgmt" }, { selector: "group=main", soak: "2d" }],
  });
  const assets = [...hosts("main", "main", 8), ...hosts("mgmt", "mgmt", 4), ...hosts("edge", "edge", 2)];

  it("rings in sequence, the canary from the first, soak and exact promotion as gates", () => {
    const p = plan(assets, policy);
    expect(names(p)).toEqual([
      "mgmt/canary",
      "mgmt/wave-1",
      "main/wave-1",
      "main/wave-2",
      "rest/wave-1",
      "rest/wave-2",
    ]);
    expect(p.phases.map((ph) => ph.ring)).toEqual([
      "group=mgmt",
      "group=mgmt",
      "group=main",
      "group=main",
      "(rest)",
      "(rest)",
    ]);
    expect(p.phases[0]?.assets[0]?.name).toMatch(/^mgmt-/);
    expect(p.phases[1]?.gates).toContainEqual({ kind: "soak", ms: 2 * DAY, nextRing: "main" });
    expect(p.phases[1]?.gates).toContainEqual({ kind: "exact-promotion", fromRing: "mgmt", toRing: "main" });
    // Between two phases of one ring: neither soak nor promotion.
    expect(gateKinds(p.phases[0])).not.toContain("soak");
    expect(p.summary).toMatchObject({ toPatch: 14, skipped: 0, phases: 6, rings: 3 });
    const end = new Date(p.phases[1]?.start ?? "").getTime();
    const ringTwo = new Date(p.phases[2]?.start ?? "").getTime();
    // mgmt/wave-1 holds 3 assets of a group of 4: at most 1 at a time, so 3 batches.
    expect(p.phases[1]?.batches).toHaveLength(3);
    expect(ringTwo - end).toBe(3 * ESTIMATED_BATCH_MS + 15 * MIN + 2 * DAY);
  });

  it("a ring that matches nothing is skipped with a warning", () => {
    const withEmpty = policyOf({ ordering: [{ selector: "group=nothing" }, { selector: "group=mgmt" }] });
    const p = plan(assets, withEmpty);
    expect(p.phases[0]?.name).toBe("mgmt/canary");
    expect(p.warnings).toContain('ring "group=nothing" matches no asset; skipped');
  });

  it("an asset belongs to the first ring it matches", () => {
    const overlapping = policyOf({ ordering: [{ selector: "region=eu-west" }, { selector: "group=mgmt" }] });
    const p = plan(assets, overlapping);
    expect(p.phases.every((ph) => ph.ring === "region=eu-west")).toBe(true);
  });
});

describe("schedule", () => {
  const satNight = { name: "sat-night", cron: "0 1 * * SAT", duration: "4h", timezone: "Europe/Berlin" };

  it("outside a window: the next window, in its time zone", () => {
    const p = plan(hosts("web", "web", 4), policyOf({ maintenanceWindows: [satNight] }));
    expect(p.timezone).toBe("Europe/Berlin");
    expect(p.schedule).toEqual({
      start: "2026-11-28T01:00:00+01:00",
      window: "sat-night",
      reason: 'next window "sat-night" at 2026-11-28T01:00:00+01:00',
    });
  });

  it("inside a window: at once", () => {
    const p = plan(hosts("web", "web", 4), policyOf({ maintenanceWindows: [satNight] }), {
      now: new Date("2026-11-28T01:30:00+01:00"),
    });
    expect(p.schedule).toEqual({
      start: "2026-11-28T01:30:00+01:00",
      window: "sat-night",
      reason: 'inside window "sat-night"',
    });
  });

  it("a freeze pushes the start past its end", () => {
    const policy = policyOf({
      maintenanceWindows: [satNight],
      freezes: [
        { name: "year-end", from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: "Europe/Berlin" },
      ],
    });
    const p = plan(hosts("web", "web", 4), policy, { now: new Date("2026-12-19T12:00:00Z") });
    expect(p.schedule.start).toBe("2027-01-09T01:00:00+01:00");
    expect(p.schedule.reason).toBe('next window "sat-night" at 2027-01-09T01:00:00+01:00');
    const noWindows = policyOf({ freezes: policy.freezes });
    const q = plan(hosts("web", "web", 4), noWindows, { now: new Date("2026-12-22T12:00:00Z") });
    expect(q.schedule).toEqual({
      start: "2027-01-03T23:00:00Z",
      window: null,
      reason: 'frozen by "year-end" until 2027-01-03T23:00:00Z; no windows: any time',
    });
  });

  it("a later phase that misses the window moves to the next opening", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "short", cron: "0 22 * * *", duration: "30m", timezone: "UTC" }],
      rollout: { maxUnavailable: 1 },
    });
    const p = plan(hosts("web", "web", 8), policy, { now: new Date("2026-11-25T22:00:00Z") });
    expect(p.phases.map((ph) => ph.start)).toEqual([
      "2026-11-25T22:00:00Z",
      "2026-11-25T22:20:00Z",
      "2026-11-26T22:00:00Z",
    ]);
  });

  it("not before a requested time", () => {
    const p = plan(hosts("web", "web", 4), DEFAULT_POLICY, { notBefore: new Date("2026-12-01T08:00:00Z") });
    expect(p.schedule.start).toBe("2026-12-01T08:00:00Z");
    expect(p.schedule.reason).toBe("not before 2026-12-01T08:00:00Z; no windows: any time");
  });

  it("emergency: at once, outside windows and through a freeze that allows it", () => {
    const policy = policyOf({
      maintenanceWindows: [satNight],
      freezes: [{ name: "peak", cron: "0 9 * * MON-FRI", duration: "9h", timezone: "Europe/Berlin" }],
    });
    const now = new Date("2026-11-25T10:00:00Z"); // Wednesday 11:00 in Berlin, peak hours
    const p = plan(hosts("web", "web", 4), policy, { emergency: true, now });
    expect(p.schedule).toEqual({
      start: "2026-11-25T11:00:00+01:00",
      window: null,
      reason: 'emergency: starts at once, overriding freeze "peak"',
    });
    const normal = plan(hosts("web", "web", 4), policy, { now });
    expect(normal.schedule.start).toBe("2026-11-28T01:00:00+01:00");
  });

  it("emergency: a freeze that allows no override still holds", () => {
    const policy = policyOf({
      freezes: [
        {
          name: "audit",
          from: "2026-11-20T00:00",
          to: "2026-11-30T00:00",
          timezone: "UTC",
          allowEmergencyOverride: false,
        },
      ],
    });
    const p = plan(hosts("web", "web", 4), policy, { emergency: true });
    expect(p.schedule.start).toBe("2026-11-30T00:00:00Z");
    expect(p.schedule.reason).toBe(
      'freeze "audit" allows no emergency override until 2026-11-30T00:00:00Z; emergency: starts 2026-11-30T00:00:00Z',
    );
  });

  it("no allowed start within a year: start null and a warning", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "gone", start: "2026-01-10T22:00", duration: "3h", timezone: "UTC" }],
    });
    const p = plan(hosts("web", "web", 4), policy);
    expect(p.schedule.start).toBeNull();
    expect(p.schedule.reason).toBe("no allowed start within a year of 2026-11-25T10:00:00Z");
    expect(p.warnings).toContain(
      "no allowed start within a year of 2026-11-25T10:00:00Z: the plan cannot be scheduled as the policy stands",
    );
  });

  it("a one-off window too short for every phase leaves the plan unscheduled", () => {
    const policy = policyOf({
      maintenanceWindows: [{ name: "once", start: "2026-12-27T22:00", duration: "10m", timezone: "UTC" }],
    });
    const p = plan(hosts("web", "web", 4), policy);
    expect(p.phases[0]?.start).toBe("2026-12-27T22:00:00Z");
    expect(p.schedule.start).toBeNull();
    expect(p.schedule.reason).toMatch(/^phase "wave-1" has no allowed start within a year/);
  });
});

describe("bad input changes nothing and says where", () => {
  it.each([
    ["no asset", [], DEFAULT_POLICY, "/selector"],
    ["a name twice", [asset("a", "g"), asset("a", "g")], DEFAULT_POLICY, "/assets"],
    // The policy checker refuses these selectors; the planner still guards against a policy built without it.
    [
      "a bad ring selector",
      [asset("a", "g")],
      { ...DEFAULT_POLICY, ordering: [{ selector: "group in web", promote: "exact" }] } satisfies Policy,
      "/ordering/0/selector (offset 9)",
    ],
    [
      "a bad canary selector",
      [asset("a", "g")],
      {
        ...DEFAULT_POLICY,
        rollout: { ...DEFAULT_POLICY.rollout, phases: [{ canary: "role=" }] },
      } satisfies Policy,
      "/rollout/phases/0/canary (offset 5)",
    ],
  ] as const)("%s", (_what, assets, policy, where) => {
    let caught: unknown;
    try {
      plan([...assets], policy);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).where).toBe(where);
  });

  it("a version the ecosystem does not accept", () => {
    let caught: unknown;
    try {
      plan([asset("a", "g")], DEFAULT_POLICY, { patch: { ...PATCH, version: "3.0 beta" } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toMatchObject({ where: "/version", reason: "plan.invalid-version", status: 400 });
  });
});

describe("targets follow what is installed", () => {
  const fleet = [...hosts("web", "web", 4), asset("db-1", "db"), asset("db-2", "db"), asset("stg-1", "web")];
  const installed = new Map([
    ["id-web-01", OLD],
    ["id-web-02", "3.0.9-1"],
    ["id-web-03", OLD],
    ["id-web-04", OLD],
    ["id-db-1", PATCH.version], // already has it
    ["id-db-2", "1:0.9-1"], // an epoch: newer than any 3.x without one
  ]);

  it("targets below the version with from → to; the rest skipped with the reason", () => {
    const p = plan(fleet, DEFAULT_POLICY, { installed });
    expect(p.targets.map((t) => [t.name, t.fromVersion, t.toVersion]).sort()).toEqual([
      ["web-01", OLD, PATCH.version],
      ["web-02", "3.0.9-1", PATCH.version],
      ["web-03", OLD, PATCH.version],
      ["web-04", OLD, PATCH.version],
    ]);
    expect(p.skipped).toEqual([
      { id: "id-db-1", name: "db-1", reason: "up-to-date", installedVersion: PATCH.version },
      { id: "id-db-2", name: "db-2", reason: "up-to-date", installedVersion: "1:0.9-1" },
      { id: "id-stg-1", name: "stg-1", reason: "not-installed", installedVersion: null },
    ]);
    expect(p.phases.flatMap((ph) => ph.assets.map((a) => a.name)).sort()).toEqual([
      "web-01",
      "web-02",
      "web-03",
      "web-04",
    ]);
    expect(p.targets[0]).toEqual({
      id: p.phases[0]?.assets[0]?.id,
      name: p.phases[0]?.assets[0]?.name,
      environment: "prod",
      group: "web",
      region: "eu-west",
      fromVersion: expect.any(String),
      toVersion: PATCH.version,
    });
    // Limits over the targets: 25% of 4 web assets is 1; the skipped db group has none.
    expect(p.maxUnavailable).toEqual({ group: { web: 1 }, region: { "eu-west": 1 } });
    expect(p.summary).toEqual({
      toPatch: 4,
      skipped: 3,
      phases: 2,
      rings: 1,
      earliestStart: "2026-11-25T10:00:00Z",
      // wave-1 starts at 10:20: 3 batches of one (1 web at a time) × 5m, then 15m of observation.
      estimatedEnd: "2026-11-25T10:50:00Z",
    });
  });

  it("nothing to patch: no phase, not schedulable, and says why", () => {
    const p = plan(fleet, DEFAULT_POLICY, { installed: new Map([["id-db-1", PATCH.version]]) });
    expect(p.phases).toEqual([]);
    expect(p.targets).toEqual([]);
    expect(p.skipped).toHaveLength(fleet.length);
    expect(p.schedule).toEqual({
      start: null,
      window: null,
      reason: `nothing to patch: no matched asset has openssl installed below ${PATCH.version}`,
    });
    expect(p.summary).toMatchObject({ toPatch: 0, skipped: 7, phases: 0, rings: 0, earliestStart: null });
  });

  it("an installed version the scheme cannot read is skipped with a warning, never patched", () => {
    const p = plan(hosts("web", "web", 3), DEFAULT_POLICY, {
      installed: new Map([
        ["id-web-01", OLD],
        ["id-web-02", "not a version!"],
        ["id-web-03", OLD],
      ]),
    });
    expect(p.skipped).toEqual([
      { id: "id-web-02", name: "web-02", reason: "unknown-version", installedVersion: "not a version!" },
    ]);
    expect(p.warnings).toContain(
      "1 asset(s) report a version of openssl that is not a valid Debian version (web-02): skipped",
    );
  });

  it("versions are compared by the ecosystem's scheme, not as text", () => {
    // As text "3.0.9" > "3.0.15"; as Debian versions it is lower. Under semver "1.10.0" > "1.9.0".
    const p = plan(hosts("web", "web", 2), DEFAULT_POLICY, {
      installed: new Map([
        ["id-web-01", "3.0.9-1"],
        ["id-web-02", "3.0.15-1~deb12u1+b1"],
      ]),
    });
    expect(p.targets.map((t) => t.name)).toEqual(["web-01"]);
    const npm = plan(hosts("web", "web", 2), DEFAULT_POLICY, {
      patch: { ecosystem: "npm", package: "lodash", version: "1.10.0", artifactSha256: null },
      installed: new Map([
        ["id-web-01", "1.9.0"],
        ["id-web-02", "1.10.0"],
      ]),
    });
    expect(npm.targets.map((t) => [t.name, t.fromVersion])).toEqual([["web-01", "1.9.0"]]);
    expect(npm.skipped.map((s) => s.reason)).toEqual(["up-to-date"]);
  });
});

// ---- property tests over random fleets and policies --------------------------------------------------

const GROUPS = ["mgmt", "web", "api", "db", "cache", "batch"];
const REGIONS = ["eu-west", "us-east", "ap-south", "sa-east"];

const assetArb = fc.record({
  group: fc.constantFrom(...GROUPS),
  region: fc.constantFrom(...REGIONS),
  environment: fc.constantFrom("prod", "staging", "dev"),
  criticality: fc.integer({ min: 1, max: 5 }),
  canary: fc.boolean(),
  tier: fc.constantFrom("a", "b", "c", undefined),
});

// The size is drawn first so that large fleets (many batches) are as likely as small ones.
const fleetArb = fc
  .integer({ min: 1, max: 200 })
  .chain((n) => fc.array(assetArb, { minLength: n, maxLength: n }))
  .map((rows) =>
    rows.map((r, i) => {
      const labels: Record<string, string> = {};
      if (r.canary && i % 7 === 0) labels.role = "canary";
      if (r.tier !== undefined) labels.tier = r.tier;
      return asset(`host-${String(i).padStart(3, "0")}`, r.group, r.region, {
        environment: r.environment,
        criticality: r.criticality,
        labels,
      });
    }),
  );

const amountArb = fc.oneof(
  fc.integer({ min: 1, max: 30 }),
  fc.integer({ min: 1, max: 100 }).map((n) => `${n}%`),
);

const WINDOW_TEMPLATES: PolicyInput["maintenanceWindows"][] = [
  [],
  [{ name: "sat-night", cron: "0 1 * * SAT", duration: "4h", timezone: "Europe/Berlin" }],
  [
    {
      name: "nightly",
      days: ["mon", "tue", "wed", "thu", "fri"],
      at: "23:00",
      duration: "3h",
      timezone: "America/New_York",
    },
  ],
  [
    {
      name: "patch-tuesday-plus-2",
      cron: "0 22 * * TUE#2",
      offsetDays: 2,
      duration: "6h",
      timezone: "America/New_York",
    },
    { name: "sun-morning", cron: "0 6 * * SUN", duration: "2h", timezone: "UTC" },
  ],
  [{ name: "once", start: "2026-12-27T22:00", duration: "3h", timezone: "UTC" }],
];

const FREEZE_TEMPLATES: PolicyInput["freezes"][] = [
  [],
  [{ name: "peak-hours", cron: "0 9 * * MON-FRI", duration: "9h", timezone: "Europe/Berlin" }],
  [{ name: "year-end", from: "2026-12-20T00:00", to: "2027-01-04T00:00", timezone: "Europe/Berlin" }],
  [
    {
      name: "audit",
      from: "2027-03-01T00:00",
      to: "2027-03-15T00:00",
      timezone: "UTC",
      allowEmergencyOverride: false,
    },
  ],
];

const RING_TEMPLATES = [
  { selector: "group=mgmt" },
  { selector: "environment=staging", soak: "1d" },
  { selector: "region in (us-east,sa-east)", soak: "2h", promote: "latest" as const },
  { selector: "tier=a" },
  { selector: "group=nothing" },
];

const policyArb = fc
  .record({
    canary: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 20 }).map((n) => `${n}%`),
      fc.constant("role=canary"),
    ),
    waves: fc.array(amountArb, { maxLength: 4 }),
    observe: fc.constantFrom("0", "5m", "15m", "1h"),
    maxUnavailable: amountArb,
    perWave: amountArb,
    total: amountArb,
    ordering: fc
      .subarray(RING_TEMPLATES)
      .chain((rings) => fc.shuffledSubarray(rings, { minLength: rings.length })),
    windows: fc.constantFrom(...WINDOW_TEMPLATES),
    freezes: fc.constantFrom(...FREEZE_TEMPLATES),
  })
  .filter((r) => r.canary !== undefined || r.waves.length > 0)
  .map((r) =>
    policyOf({
      maintenanceWindows: r.windows,
      freezes: r.freezes,
      ordering: r.ordering,
      rollout: {
        phases: [
          ...(r.canary === undefined ? [] : [{ canary: r.canary }]),
          ...r.waves.map((w) => ({ wave: w })),
        ],
        observe: r.observe,
        maxUnavailable: r.maxUnavailable,
        failureBudget: { perWave: r.perWave, total: r.total },
      },
    }),
  );

/** What a random asset has installed, against PATCH.version: below it, equal, above it, or nothing. */
const INSTALLED = {
  older: "3.0.9-1",
  old: OLD,
  same: PATCH.version,
  // Above the patch: a later Debian revision, and an epoch that beats any upstream version.
  newer: "3.0.15-1~deb12u2",
  epoch: "1:1.0-1",
  none: undefined,
} as const;
type InstalledKind = keyof typeof INSTALLED;
const BELOW: ReadonlySet<InstalledKind> = new Set(["older", "old"]);

const caseArb = fc.record({
  fleet: fleetArb,
  // Mostly targets, so that the phase properties see large plans too.
  installs: fc.array(
    fc.constantFrom<InstalledKind>("old", "old", "old", "older", "same", "newer", "epoch", "none"),
    { minLength: 200, maxLength: 200 },
  ),
  policy: policyArb,
  emergency: fc.boolean(),
  now: fc.date({
    min: new Date("2026-01-01T00:00:00Z"),
    max: new Date("2027-12-31T00:00:00Z"),
    noInvalidDate: true,
  }),
  notBeforeMs: fc.option(fc.integer({ min: 0, max: 10 * DAY }), { nil: undefined }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const kindOf = (c: Case, a: Asset): InstalledKind => c.installs[c.fleet.indexOf(a)] ?? "old";

function installedOf(c: Case): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of c.fleet) {
    const v = INSTALLED[kindOf(c, a)];
    if (v !== undefined) out.set(a.id, v);
  }
  return out;
}

/** The assets the plan must patch, decided here from how each case was drawn, not by the planner. */
const targetsOf = (c: Case): Asset[] => c.fleet.filter((a) => BELOW.has(kindOf(c, a)));

function inputOf(c: Case, assets: Asset[] = c.fleet): PlanInput {
  return {
    assets,
    installed: installedOf(c),
    patch: PATCH,
    policy: c.policy,
    policyRef: { name: "random", version: 1, hash: "sha256:random" },
    selector: "",
    emergency: c.emergency,
    now: c.now,
    ...(c.notBeforeMs === undefined ? {} : { notBefore: new Date(c.now.getTime() + c.notBeforeMs) }),
  };
}

/** The policy's maxUnavailable for a set of `size` assets, computed here independently of the planner. */
function allowed(policy: Policy, size: number): number {
  const m = policy.rollout.maxUnavailable;
  const text = String(m);
  if (text.endsWith("%")) return Math.max(1, Math.floor((Number(text.slice(0, -1)) * size) / 100));
  return Number(m);
}

function ringIndex(policy: Policy, a: Asset): number {
  const i = policy.ordering.findIndex((r) => matchesSelector(parseSelector(r.selector), selectorView(a)));
  return i < 0 ? policy.ordering.length : i;
}

const RUNS = { numRuns: 50 };

describe("plan invariants over random fleets and policies", () => {
  it("targets ∪ skipped = the matched assets, disjoint; skipped with the right reason", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        const targetIds = p.targets.map((t) => t.id);
        const skippedIds = p.skipped.map((t) => t.id);
        expect(new Set([...targetIds, ...skippedIds]).size).toBe(c.fleet.length);
        expect([...targetIds, ...skippedIds].sort()).toEqual(c.fleet.map((a) => a.id).sort());
        expect([...targetIds].sort()).toEqual(
          targetsOf(c)
            .map((a) => a.id)
            .sort(),
        );
        const byId = new Map(c.fleet.map((a) => [a.id, a]));
        for (const s of p.skipped) {
          const kind = kindOf(c, byId.get(s.id) as Asset);
          expect(s.reason).toBe(kind === "none" ? "not-installed" : "up-to-date");
          expect(s.installedVersion).toBe(INSTALLED[kind] ?? null);
        }
        expect(p.summary.toPatch + p.summary.skipped).toBe(c.fleet.length);
      }),
      RUNS,
    );
  });

  it("every target goes from its installed version up to the patch's; skipped assets are in no phase", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        const byId = new Map(c.fleet.map((a) => [a.id, a]));
        for (const t of p.targets) {
          const a = byId.get(t.id) as Asset;
          expect(t.fromVersion).toBe(INSTALLED[kindOf(c, a)]);
          expect(t.toVersion).toBe(PATCH.version);
          expect(debScheme.compare(t.fromVersion, t.toVersion)).toBe(-1);
          expect(t).toMatchObject({
            name: a.name,
            group: a.group,
            region: a.region,
            environment: a.environment,
          });
        }
        const skipped = new Set(p.skipped.map((s) => s.id));
        for (const ph of p.phases) {
          for (const a of ph.assets) expect(skipped.has(a.id)).toBe(false);
          for (const id of ph.batches.flat()) expect(skipped.has(id)).toBe(false);
        }
        // Targets in execution order: phase by phase, batch by batch.
        expect(p.targets.map((t) => t.id)).toEqual(p.phases.flatMap((ph) => ph.batches.flat()));
      }),
      RUNS,
    );
  });

  it("every target in exactly one phase and one batch; the canary phase first and only first", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        const inPhases = p.phases.flatMap((ph) => ph.assets.map((a) => a.id));
        const inBatches = p.phases.flatMap((ph) => ph.batches.flat());
        const all = targetsOf(c)
          .map((a) => a.id)
          .sort();
        expect([...inPhases].sort()).toEqual(all);
        expect([...inBatches].sort()).toEqual(all);
        for (const ph of p.phases) {
          expect(ph.assets.length).toBeGreaterThan(0);
          expect(ph.batches.flat()).toEqual(ph.assets.map((a) => a.id));
        }
        if (all.length === 0) {
          expect(p.phases).toEqual([]);
          expect(p.schedule.start).toBeNull();
          return;
        }
        expect(p.phases[0]?.kind).toBe("canary");
        expect(p.phases.filter((ph) => ph.kind === "canary")).toHaveLength(1);
        expect(p.summary.phases).toBe(p.phases.length);
      }),
      RUNS,
    );
  });

  it("no batch above maxUnavailable per group and per region, and the plan states those limits (invariant 1)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        const targets = targetsOf(c);
        const byId = new Map(targets.map((a) => [a.id, a]));
        const size = (key: (a: Asset) => string, v: string) => targets.filter((a) => key(a) === v).length;
        const keys = { group: (a: Asset) => a.group, region: (a: Asset) => a.region };
        for (const [what, key] of Object.entries(keys) as Array<["group" | "region", (a: Asset) => string]>) {
          for (const v of new Set(targets.map(key))) {
            expect(p.maxUnavailable[what][v]).toBe(allowed(c.policy, size(key, v)));
          }
          expect(Object.keys(p.maxUnavailable[what]).length).toBe(new Set(targets.map(key)).size);
        }
        for (const batch of p.phases.flatMap((ph) => ph.batches)) {
          for (const key of Object.values(keys)) {
            const counts = new Map<string, number>();
            for (const id of batch) {
              const v = key(byId.get(id) as Asset);
              counts.set(v, (counts.get(v) ?? 0) + 1);
            }
            for (const [v, n] of counts) expect(n).toBeLessThanOrEqual(allowed(c.policy, size(key, v)));
          }
        }
      }),
      RUNS,
    );
  });

  it("ring order honoured: phases follow the rings, canaries from the first ring", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        const ring = new Map(targetsOf(c).map((a) => [a.id, ringIndex(c.policy, a)]));
        const firstRing = Math.min(...ring.values());
        let last = -1;
        for (const ph of p.phases) {
          const rings = new Set(ph.assets.map((a) => ring.get(a.id)));
          expect(rings.size).toBe(1);
          const r = [...rings][0] ?? -1;
          expect(r).toBeGreaterThanOrEqual(last);
          last = r;
          if (ph.kind === "canary") expect(r).toBe(firstRing);
          expect(ph.ring === null).toBe(c.policy.ordering.length === 0);
        }
        expect(p.summary.rings).toBe(new Set(ring.values()).size);
      }),
      RUNS,
    );
  });

  it("phase starts non-decreasing, after the estimates, and each allowed by checkStart (invariant 5)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const input = inputOf(c);
        const p = buildPlan(input);
        const from = Math.max(c.now.getTime(), input.notBefore?.getTime() ?? 0);
        const starts = p.phases.map((ph) => new Date(ph.start).getTime());
        if (starts.length > 0) expect(starts[0]).toBeGreaterThanOrEqual(from);
        p.phases.forEach((_ph, i) => {
          const prev = p.phases[i - 1];
          const prevStart = starts[i - 1];
          if (prev !== undefined && prevStart !== undefined) {
            const min = prevStart + prev.batches.length * ESTIMATED_BATCH_MS + prev.observeMs;
            expect(starts[i]).toBeGreaterThanOrEqual(min);
          }
        });
        if (p.schedule.start === null) {
          expect(p.warnings.some((w) => w.includes("cannot be scheduled"))).toBe(true);
          expect(p.summary).toMatchObject({ earliestStart: null, estimatedEnd: null });
          return;
        }
        expect(p.schedule.start).toBe(p.phases[0]?.start);
        expect(p.summary.earliestStart).toBe(p.schedule.start);
        const last = p.phases.at(-1) as PlanPhaseV2;
        expect(new Date(p.summary.estimatedEnd ?? "").getTime()).toBe(
          new Date(last.start).getTime() + last.batches.length * ESTIMATED_BATCH_MS + last.observeMs,
        );
        const opts = c.emergency ? { emergency: true, justification: "test", approver: "test" } : {};
        for (const ph of p.phases) {
          const decision = checkStart(c.policy, new Date(ph.start), opts);
          expect(decision.allowed, `${ph.name} at ${ph.start}: ${decision.reason}`).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("deterministic: the same input (in any order) gives the same plan, and it is plain JSON", () => {
    fc.assert(
      fc.property(caseArb, fc.infiniteStream(fc.nat()), (c, seeds) => {
        const p = buildPlan(inputOf(c));
        expect(buildPlan(inputOf(c))).toEqual(p);
        const shuffled = c.fleet
          .map((a) => ({ a, k: seeds.next().value }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.a);
        expect(buildPlan(inputOf(c, shuffled))).toEqual(p);
        expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      }),
      { numRuns: 30 },
    );
  });

  it("budgets within the total; a canary is never the last asset of its group without a warning", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const p = buildPlan(inputOf(c));
        for (const ph of p.phases) {
          expect(ph.failureBudget).toBeLessThanOrEqual(p.totalFailureBudget);
          expect(ph.gates).toContainEqual({ kind: "failure-budget", max: ph.failureBudget });
        }
        if (String(c.policy.rollout.phases[0]?.canary ?? "").includes("=")) return;
        const targets = targetsOf(c);
        const canary = new Set(members(p.phases[0]));
        for (const a of targets.filter((x) => canary.has(x.name))) {
          const others = targets.filter((x) => x.group === a.group && !canary.has(x.name));
          if (others.length === 0) {
            expect(p.warnings.some((w) => w.includes(`group "${a.group}"`))).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });
});
