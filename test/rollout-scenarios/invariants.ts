/**
 * The safety invariants, checked while a scenario runs and from what it recorded:
 * - the hosts are sampled during the run (dpkg-query on each root, GET /health) and so is the API's
 *   view of the rollout; every disturbance a host shows must fall inside one of the unavailable
 *   intervals the server recorded for it, and the hosts disturbed at once stay within max unavailable;
 * - the recorded intervals (the `rollout.asset.*` audit events with their times) are replayed and
 *   never exceed max unavailable per group or region;
 * - the canary runs first and a phase starts only after the one before it passed;
 * - the maintainer-script log of each host counts real installs: at most one per operation key.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { PlanV2 } from "../../src/changes/plan.js";
import { UNAVAILABLE_ASSET_STATES } from "../../src/rollout/model.js";
import type { Store } from "../../src/store/store.js";
import type { TestFleetHost } from "../../src/testfleet/harness.js";
import { FLEET_PACKAGE, installLogPath } from "../../src/testfleet/packages.js";
import { spawnerExecFile } from "../../src/testfleet/spawner.js";
import {
  approvedChange,
  ended,
  type RolloutShow,
  rolloutOf,
  type Scenario,
  showRollout,
  waitRollout,
} from "./harness.js";

// The sampler's dpkg-query runs start from a worker thread (src/testfleet/spawner.ts): a round of
// spawns from this process, whose event loop also serves an in-process server's heartbeats, stalled
// it on a loaded machine for two intervals, and hosts were taken for lost.
const spawner = spawnerExecFile(execFile);

function runInWorker(file: string, args: readonly string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    spawner.execFile(file, [...args], {}, (error: (Error & { code?: unknown }) | null, stdout: string) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout });
    });
  });
}
const UNAVAILABLE = UNAVAILABLE_ASSET_STATES as readonly string[];

export interface HostReading {
  host: string;
  /** The reading held at some instant between these two (ms since the epoch). */
  from: number;
  to: number;
  /** dpkg's status abbreviation ("ii " when installed and configured) and version; null: not installed. */
  status: string | null;
  version: string | null;
  /** False when dpkg-query could not be run or read the database: the reading says nothing of the host. */
  read: boolean;
  health: number | null;
}

/**
 * One host's package, as dpkg-query reads it from the host's own dpkg database. `read` is false when
 * dpkg-query did not answer (it could not be started on a loaded machine, or stopped with an error of
 * its own): not installed is dpkg-query's exit status 1 with nothing listed.
 */
export async function dpkgQuery(
  root: string,
): Promise<{ status: string | null; version: string | null; read: boolean }> {
  const { code, stdout } = await runInWorker("dpkg-query", [
    `--admindir=${join(root, "var", "lib", "dpkg")}`,
    "-W",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    "-f=${db:Status-Abbrev}|${Version}",
    "--",
    FLEET_PACKAGE,
  ]);
  if (code !== 0) return { status: null, version: null, read: code === 1 && stdout === "" };
  const [status, version] = stdout.split("|");
  return { status: status ?? null, version: version || null, read: true };
}

async function health(url: string): Promise<number | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

/**
 * Samples every host (dpkg-query and /health) and the rollout's API view in rounds until stopped.
 * A round reads all hosts at once; its readings share one window, so a round is one instant's view.
 */
export class Sampler {
  readonly rounds: HostReading[][] = [];
  readonly views: Array<{ at: number; view: RolloutShow }> = [];
  #stopped = false;
  #loop: Promise<void> | null = null;
  rolloutId: string | null = null;

  constructor(
    private readonly scenario: Pick<Scenario, "admin">,
    private readonly hosts: readonly TestFleetHost[],
    private readonly pauseMs = 50,
  ) {}

  start(): this {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const from = Date.now();
        const readings = await Promise.all(
          this.hosts.map(async (h) => {
            const [pkg, status] = await Promise.all([dpkgQuery(h.dpkg.root), health(h.service.healthUrl)]);
            return { host: h.name, ...pkg, health: status };
          }),
        );
        const to = Date.now();
        this.rounds.push(readings.map((r) => ({ ...r, from, to })));
        if (this.rolloutId !== null) {
          const view = await showRollout(this.scenario, this.rolloutId).catch(() => null);
          if (view) this.views.push({ at: Date.now(), view });
        }
        await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

export interface Limits {
  group: Record<string, number>;
  region: Record<string, number>;
}

export async function planOf(store: Store, changeId: string): Promise<PlanV2> {
  const row = await store.db
    .selectFrom("change_requests")
    .select("plan")
    .where("id", "=", changeId)
    .executeTakeFirstOrThrow();
  return JSON.parse(row.plan ?? "null") as PlanV2;
}

export interface AssetEvent {
  seq: number;
  at: number;
  action: string;
  data: Record<string, unknown>;
}

export async function rolloutEvents(store: Store, rolloutId: string): Promise<AssetEvent[]> {
  const rows = await store.db
    .selectFrom("audit_events")
    .select(["seq", "at", "action", "data"])
    .where("target_type", "=", "rollout")
    .where("target_id", "=", rolloutId)
    .orderBy("seq")
    .execute();
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: new Date(r.at).getTime(),
    action: r.action,
    data: JSON.parse(r.data) as Record<string, unknown>,
  }));
}

/** One stretch of time an asset was out of service, as the server recorded it. */
export interface Interval {
  asset: string;
  group: string;
  region: string;
  since: number;
  /** Infinity while it is still out (e.g. a failed asset the rollout went on without). */
  until: number;
}

/**
 * Replays the `rollout.asset.*` events: asserts that at no point more assets were out of service than
 * the plan allows per group and per region, and returns the recorded intervals and the most out at once.
 */
export function replayIntervals(
  events: readonly AssetEvent[],
  limits: Limits,
): {
  intervals: Interval[];
  most: number;
} {
  const state = new Map<string, { group: string; region: string; state: string; since: number }>();
  const intervals: Interval[] = [];
  let most = 0;
  for (const e of events) {
    if (!e.action.startsWith("rollout.asset.")) continue;
    const d = e.data as { asset: string; group: string; region: string; to: string };
    const before = state.get(d.asset);
    const wasOut = before !== undefined && UNAVAILABLE.includes(before.state);
    const isOut = UNAVAILABLE.includes(d.to);
    if (wasOut && !isOut) {
      intervals.push({ asset: d.asset, group: d.group, region: d.region, since: before.since, until: e.at });
    }
    state.set(d.asset, {
      group: d.group,
      region: d.region,
      state: d.to,
      since: wasOut && isOut ? before.since : e.at,
    });
    const out = [...state.values()].filter((s) => UNAVAILABLE.includes(s.state));
    most = Math.max(most, out.length);
    for (const [g, max] of Object.entries(limits.group)) {
      expect(out.filter((s) => s.group === g).length, `group ${g} at audit seq ${e.seq}`).toBeLessThanOrEqual(
        max,
      );
    }
    for (const [r, max] of Object.entries(limits.region)) {
      expect(
        out.filter((s) => s.region === r).length,
        `region ${r} at audit seq ${e.seq}`,
      ).toBeLessThanOrEqual(max);
    }
  }
  for (const [asset, s] of state) {
    if (UNAVAILABLE.includes(s.state)) {
      intervals.push({
        asset,
        group: s.group,
        region: s.region,
        since: s.since,
        until: Number.POSITIVE_INFINITY,
      });
    }
  }
  return { intervals, most };
}

/** The times stored are the server's clock in ms; a sample's window is read on the same machine. */
const CLOCK_SLACK_MS = 5;

function covered(intervals: readonly Interval[], host: string, from: number, to: number): boolean {
  return intervals.some(
    (i) => i.asset === host && i.since - CLOCK_SLACK_MS <= to && i.until + CLOCK_SLACK_MS >= from,
  );
}

export interface SampleCheck {
  rounds: number;
  /** Readings in which a host was disturbed (mid-install, unhealthy, or changing version). */
  disturbed: number;
  /** Most hosts disturbed in one round. */
  mostAtOnce: number;
}

/**
 * Checks the host samples against the recorded intervals and the limits: a host is disturbed while
 * dpkg has its package in any state but installed, while its /health fails, or between two readings
 * of different versions; each disturbance must lie within a recorded interval of that host, and the
 * hosts seen mid-install or unhealthy in one round stay within max unavailable per group and region.
 */
export function checkSamples(
  sampler: Sampler,
  hosts: readonly TestFleetHost[],
  intervals: readonly Interval[],
  limits: Limits,
): SampleCheck {
  const place = new Map(hosts.map((h) => [h.name, h]));
  const previous = new Map<string, HostReading>();
  let disturbed = 0;
  let mostAtOnce = 0;
  for (const round of sampler.rounds) {
    const now: string[] = [];
    for (const r of round) {
      // A reading dpkg-query did not answer is neither a disturbance nor the version the next one
      // is compared with.
      if (!r.read) continue;
      const prev = previous.get(r.host);
      previous.set(r.host, r);
      const moving = r.status !== "ii ";
      // No answer in time (null) says nothing on a loaded machine; a status other than 200 is a failure.
      const sick = r.health !== null && r.health !== 200;
      const changed = prev !== undefined && prev.version !== r.version;
      if (!moving && !sick && !changed) continue;
      disturbed += 1;
      // A version that changed between two readings says only that the install happened somewhere in
      // that span, which may have ended before another host's began: it is checked against the host's
      // recorded intervals below, and only what a reading saw at its instant counts as out at once.
      if (moving || sick) now.push(r.host);
      const from = changed && prev ? prev.from : r.from;
      expect(
        covered(intervals, r.host, from, r.to),
        `${r.host} was disturbed (status ${JSON.stringify(r.status)}, health ${r.health}, version ${prev?.version} → ${r.version}) between ${new Date(from).toISOString()} and ${new Date(r.to).toISOString()}, outside every interval the server recorded for it`,
      ).toBe(true);
    }
    mostAtOnce = Math.max(mostAtOnce, now.length);
    const count = (key: "group" | "region", value: string) =>
      now.filter((n) => place.get(n)?.[key] === value).length;
    for (const [g, max] of Object.entries(limits.group))
      expect(count("group", g), `group ${g}`).toBeLessThanOrEqual(max);
    for (const [r, max] of Object.entries(limits.region))
      expect(count("region", r), `region ${r}`).toBeLessThanOrEqual(max);
  }
  return { rounds: sampler.rounds.length, disturbed, mostAtOnce };
}

/** The API's view sampled during the run: never more assets out of service than allowed. */
export function checkViews(sampler: Sampler, limits: Limits): number {
  let most = 0;
  for (const { view } of sampler.views) {
    const out = view.assets.filter((a) => UNAVAILABLE.includes(a.state));
    most = Math.max(most, out.length);
    for (const [g, max] of Object.entries(limits.group))
      expect(out.filter((a) => a.group === g).length).toBeLessThanOrEqual(max);
    for (const [r, max] of Object.entries(limits.region))
      expect(out.filter((a) => a.region === r).length).toBeLessThanOrEqual(max);
  }
  return most;
}

/**
 * Invariant 2 from the audit log: the first patch dispatched is a canary asset's, and no asset of a
 * phase is dispatched before every earlier phase passed (its observation included).
 */
export function checkPhaseOrder(events: readonly AssetEvent[], plan: PlanV2): void {
  const phaseOf = new Map<string, number>();
  plan.phases.forEach((p, i) => {
    for (const a of p.assets) phaseOf.set(a.name, i);
  });
  const passedAt = new Map<number, number>();
  let firstPatch: string | null = null;
  for (const e of events) {
    if (e.action === "rollout.phase.passed") passedAt.set(Number(e.data.idx), e.seq);
    if (e.action !== "rollout.operation.dispatched" || e.data.action !== "patch") continue;
    const asset = String(e.data.asset);
    firstPatch ??= asset;
    const idx = phaseOf.get(asset) ?? -1;
    for (let earlier = 0; earlier < idx; earlier++) {
      expect(
        passedAt.get(earlier),
        `${asset} (phase ${idx}) dispatched before phase ${earlier} passed`,
      ).toBeDefined();
    }
  }
  if (firstPatch !== null) expect(phaseOf.get(firstPatch), "the first asset patched").toBe(0);
  expect(plan.phases[0]?.kind).toBe("canary");
}

export interface InstallLine {
  version: string;
  from: string;
}

/** The maintainer-script log of a host: one line per real configure of the fleet's package. */
export function installs(root: string): InstallLine[] {
  const path = installLogPath(root);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("postinst configure "))
    .map((l) => {
      const [, , version, from] = l.split(" ");
      return { version: version ?? "", from: (from ?? "").replace(/^from=/, "") };
    });
}

/** How many patch and revert operations the server created per asset name (one key each). */
export async function operationKeys(
  store: Store,
  rolloutId: string,
): Promise<Map<string, { patch: number; revert: number }>> {
  const rows = await store.db
    .selectFrom("operations")
    .innerJoin("assets", "assets.id", "operations.asset_id")
    .select(["assets.name as name", "operations.action as action", "operations.idempotency_key as key"])
    .where("operations.rollout_id", "=", rolloutId)
    .execute();
  const out = new Map<string, { patch: number; revert: number }>();
  for (const r of rows) {
    const entry = out.get(r.name) ?? { patch: 0, revert: 0 };
    if (r.action === "patch") entry.patch += 1;
    if (r.action === "revert") entry.revert += 1;
    out.set(r.name, entry);
  }
  return out;
}

/**
 * At most one real install per operation key: the installs of `toVersion` a host's log gained since
 * `before` never outnumber its patch operations, nor the reinstalls of the old version its reverts.
 */
export async function checkInstallsPerKey(
  store: Store,
  rolloutId: string,
  hosts: readonly TestFleetHost[],
  before: ReadonlyMap<string, number>,
  versions: { from: string; to: string },
): Promise<Map<string, { patched: number; reverted: number }>> {
  const keys = await operationKeys(store, rolloutId);
  const out = new Map<string, { patched: number; reverted: number }>();
  for (const h of hosts) {
    const lines = installs(h.dpkg.root).slice(before.get(h.name) ?? 0);
    const patched = lines.filter((l) => l.version === versions.to).length;
    const reverted = lines.filter((l) => l.version === versions.from).length;
    const k = keys.get(h.name) ?? { patch: 0, revert: 0 };
    expect(patched, `${h.name}: installs of ${versions.to}`).toBeLessThanOrEqual(k.patch);
    expect(reverted, `${h.name}: reinstalls of ${versions.from}`).toBeLessThanOrEqual(k.revert);
    out.set(h.name, { patched, reverted });
  }
  return out;
}

/** Lines in each host's install log now: what a later check counts from. */
export function installMarks(hosts: readonly TestFleetHost[]): Map<string, number> {
  return new Map(hosts.map((h) => [h.name, installs(h.dpkg.root).length]));
}

/** Every host's installed version now, by dpkg-query. */
export async function installedVersions(
  hosts: readonly TestFleetHost[],
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const h of hosts) {
    let reading = await dpkgQuery(h.dpkg.root);
    // dpkg-query not answering on a loaded machine is asked again, a few times, a moment apart.
    for (let tries = 1; !reading.read && tries < 5; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200 * tries));
      reading = await dpkgQuery(h.dpkg.root);
    }
    out.set(h.name, reading.version);
  }
  return out;
}

/** Everything checked after a run from what it recorded, plus the samples taken during it. */
export async function checkRun(
  s: Scenario,
  options: { changeId: string; rolloutId: string; sampler?: Sampler; hosts?: readonly TestFleetHost[] },
): Promise<{
  plan: PlanV2;
  events: AssetEvent[];
  intervals: Interval[];
  mostOut: number;
  samples: SampleCheck | null;
}> {
  const plan = await planOf(s.store, options.changeId);
  const events = await rolloutEvents(s.store, options.rolloutId);
  const { intervals, most } = replayIntervals(events, plan.maxUnavailable);
  checkPhaseOrder(events, plan);
  const samples = options.sampler
    ? checkSamples(options.sampler, options.hosts ?? s.fleet.hosts, intervals, plan.maxUnavailable)
    : null;
  if (options.sampler) checkViews(options.sampler, plan.maxUnavailable);
  return { plan, events, intervals, mostOut: most, samples };
}

/**
 * A change approved and rolled out to its end while every host is sampled: the install marks taken
 * before it, the sampler (stopped), the rollout and its last view, for the invariant checks.
 */
export async function sampledRollout(
  s: Scenario,
  change: Parameters<typeof approvedChange>[1],
  timeoutMs = 120_000,
): Promise<{
  marks: Map<string, number>;
  sampler: Sampler;
  changeId: string;
  rolloutId: string;
  view: RolloutShow;
}> {
  const marks = installMarks(s.fleet.hosts);
  const sampler = new Sampler(s, s.fleet.hosts).start();
  const changeId = await approvedChange(s, change);
  const rolloutId = await rolloutOf(s, changeId);
  sampler.rolloutId = rolloutId;
  const view = await waitRollout(s, rolloutId, ended, timeoutMs);
  await sampler.stop();
  return { marks, sampler, changeId, rolloutId, view };
}
