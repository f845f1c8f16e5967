/**
 * The rollout planner: turns a policy, the assets a selector resolved to and the version of the patch's
 * package installed on each into a PlanV2 — targets (installed below the patch's version) and skipped
 * assets with the reason, rings in order, the canary first, waves split into batches that respect
 * maxUnavailable per group and per region, structured gates, failure budgets, and start times checked
 * against maintenance windows and freezes.
 * Pure: no store, and no clock but `input.now`; the same input gives the same plan.
 */
import { reasonError, ValidationError } from "../domain/errors.js";
import type { Asset } from "../domain/inventory.js";
import { matchesSelector, parseSelector, type Selector, selectorView } from "../domain/selector.js";
import { schemeForEcosystem } from "../ecosystems/registry.js";
import type { VersionScheme } from "../ecosystems/scheme.js";
import { checkStart, nextWindows, type StartDecision, type StartOptions } from "../policy/calendar.js";
import { type Amount, parseDuration, resolveAmount } from "../policy/duration.js";
import { formatInZone } from "../policy/local-time.js";
import { rolloutPlan } from "../policy/rules.js";
import type { Policy } from "../policy/schema.js";
import {
  IMPLICIT_RING,
  type PlanGate,
  type PlanInput,
  type PlanPhaseV2,
  type PlanSkip,
  type PlanTarget,
  type PlanV2,
} from "./plan.js";

export type { PlanInput, PlanV2 } from "./plan.js";

/** Estimated time to patch and verify one batch; only for the schedule (the engine measures real time). */
export const ESTIMATED_BATCH_MS = 5 * 60_000;

/** How far ahead the planner looks for an allowed start. */
const SCHEDULE_HORIZON_MS = 365 * 86_400_000;

// checkStart asks an emergency for a justification and an approver; the caller vouches for both.
const EMERGENCY_VOUCHED: StartOptions = {
  emergency: true,
  justification: "recorded with the change",
  approver: "recorded with the change",
};

// Bounds the search loop; each step moves past a freeze or to a window opening.
const MAX_SCHEDULE_STEPS = 10_000;

// Code-point order, so plans do not depend on the machine's locale.
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: Asset, b: Asset): number => byText(a.name, b.name);

// ---- selectors ---------------------------------------------------------------------------------------

function parseAt(text: string, pointer: string): Selector {
  try {
    return parseSelector(text);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ValidationError(`policy selector ${JSON.stringify(text)}: ${err.message}`, {
        where: `${pointer} (${err.where ?? "offset 0"})`,
        cause: err,
      });
    }
    throw err;
  }
}

const matches = (selector: Selector, asset: Asset): boolean => matchesSelector(selector, selectorView(asset));

// ---- rings -------------------------------------------------------------------------------------------

interface Ring {
  /** Short name for phase names and gates ("mgmt"); "" without ordering. */
  label: string;
  selector: string | null;
  soakMs: number;
  promote: "exact" | "latest";
  assets: Asset[];
}

/** A single `key=value` selector is named by its value; anything else by its text. */
function ringLabel(selector: Selector, text: string): string {
  const [only, ...more] = selector.requirements;
  return only !== undefined && more.length === 0 && only.op === "=" ? only.value : text.trim();
}

function partitionRings(policy: Policy, assets: Asset[], warnings: string[]): Ring[] {
  if (policy.ordering.length === 0) {
    return [{ label: "", selector: null, soakMs: 0, promote: "exact", assets }];
  }
  const rings = policy.ordering.map((r, i) => {
    const selector = parseAt(r.selector, `/ordering/${i}/selector`);
    return {
      parsed: selector,
      ring: {
        label: ringLabel(selector, r.selector),
        selector: r.selector,
        soakMs: r.soak === undefined ? 0 : parseDuration(r.soak),
        promote: r.promote,
        assets: [] as Asset[],
      } satisfies Ring,
    };
  });
  // Assets no ring matches go last, as the policy did not ask to have them earlier.
  const rest: Ring = { label: "rest", selector: IMPLICIT_RING, soakMs: 0, promote: "exact", assets: [] };
  for (const asset of assets) {
    const hit = rings.find((r) => matches(r.parsed, asset));
    (hit?.ring ?? rest).assets.push(asset);
  }
  const all = [...rings.map((r) => r.ring), rest];
  for (const r of rings) {
    if (r.ring.assets.length === 0) warnings.push(`ring "${r.ring.selector}" matches no asset; skipped`);
  }
  const kept = all.filter((r) => r.assets.length > 0);
  // Two rings may read the same ("env=prod" and "tier=prod"): number the later ones.
  const seen = new Map<string, number>();
  for (const r of kept) {
    const n = (seen.get(r.label) ?? 0) + 1;
    seen.set(r.label, n);
    if (n > 1) r.label = `${r.label}#${n}`;
  }
  return kept;
}

// ---- canary ------------------------------------------------------------------------------------------

function countBy(assets: readonly Asset[], key: (a: Asset) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of assets) out.set(key(a), (out.get(key(a)) ?? 0) + 1);
  return out;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Picks `count` canaries from `pool`, spread across regions and groups: each pick goes to the region and
 * group picked least so far. An asset is picked only if its group keeps another asset outside the
 * canary; when no such asset is left, the pick is allowed and a warning says so. Ties go to the lower
 * criticality, then the larger group, then the name.
 */
function spreadPick(pool: readonly Asset[], fleet: readonly Asset[], count: number, warnings: string[]) {
  const left = countBy(fleet, (a) => a.group);
  const byRegion = new Map<string, number>();
  const byGroup = new Map<string, number>();
  // Within one (group, region) bucket only criticality and name tell assets apart, so each round
  // compares the buckets' heads: rounds cost the number of buckets, not the size of the pool.
  const buckets = new Map<string, Asset[]>();
  for (const a of pool) {
    const key = `${a.group}\u0000${a.region}`;
    const list = buckets.get(key) ?? [];
    list.push(a);
    buckets.set(key, list);
  }
  const queues = [...buckets.values()].map((q) =>
    q.sort((a, b) => a.criticality - b.criticality || byName(a, b)),
  );
  const picked: Asset[] = [];
  const lonely: Asset[] = [];
  while (picked.length < count) {
    let best: Asset[] | undefined;
    let bestKey: number[] = [];
    let bestName = "";
    for (const q of queues) {
      const c = q[0];
      if (c === undefined) continue;
      const groupLeft = left.get(c.group) ?? 0;
      const regionPicks = byRegion.get(c.region) ?? 0;
      const groupPicks = byGroup.get(c.group) ?? 0;
      const key = [groupLeft >= 2 ? 0 : 1, regionPicks + groupPicks, regionPicks, c.criticality, -groupLeft];
      const order = best === undefined ? -1 : compareKeys(key, bestKey) || byText(c.name, bestName);
      if (order < 0) {
        best = q;
        bestKey = key;
        bestName = c.name;
      }
    }
    const chosen = best?.shift();
    if (chosen === undefined) break;
    if ((left.get(chosen.group) ?? 0) < 2) lonely.push(chosen);
    left.set(chosen.group, (left.get(chosen.group) ?? 0) - 1);
    byRegion.set(chosen.region, (byRegion.get(chosen.region) ?? 0) + 1);
    byGroup.set(chosen.group, (byGroup.get(chosen.group) ?? 0) + 1);
    picked.push(chosen);
  }
  for (const a of lonely) {
    warnings.push(
      `canary "${a.name}" leaves no other asset of group "${a.group}" outside the canary: no group offered a choice`,
    );
  }
  return picked;
}

type CanarySpec = { selector: string } | { amount: Amount };

function pickCanary(
  spec: CanarySpec,
  ring: Ring,
  fleet: readonly Asset[],
  multiRing: boolean,
  warnings: string[],
): Asset[] {
  if ("selector" in spec) {
    const selector = parseAt(spec.selector, "/rollout/phases/0/canary");
    const pinned = ring.assets.filter((a) => matches(selector, a));
    const inRing = new Set(ring.assets);
    const elsewhere = fleet.filter((a) => !inRing.has(a) && matches(selector, a));
    if (elsewhere.length > 0) {
      warnings.push(
        `canary selector "${spec.selector}" also matches ${elsewhere.length} asset(s) outside the first ring; they stay in their ring`,
      );
    }
    if (pinned.length > 0) return pinned;
    warnings.push(
      `canary selector "${spec.selector}" matches no asset${multiRing ? " of the first ring" : ""}; picked 1 asset instead`,
    );
    return spreadPick(ring.assets, fleet, 1, warnings);
  }
  const count = Math.max(1, resolveAmount(spec.amount, ring.assets.length));
  return spreadPick(ring.assets, fleet, count, warnings);
}

// ---- waves -------------------------------------------------------------------------------------------

/**
 * Orders assets so that every (group, region) bucket is spread evenly through the sequence: the i-th of
 * a bucket of n sits at (i + ½) / n. Any prefix (a wave) then holds about its share of every group and
 * region. Within a bucket the less critical assets go first.
 */
function spreadOrder(assets: readonly Asset[]): Asset[] {
  const buckets = new Map<string, Asset[]>();
  for (const a of assets) {
    const key = `${a.group}\u0000${a.region}`;
    const list = buckets.get(key) ?? [];
    list.push(a);
    buckets.set(key, list);
  }
  const placed: { asset: Asset; pos: number; key: string }[] = [];
  for (const [key, list] of buckets) {
    list.sort((a, b) => a.criticality - b.criticality || byName(a, b));
    list.forEach((asset, i) => {
      placed.push({ asset, pos: (i + 0.5) / list.length, key });
    });
  }
  placed.sort((a, b) => a.pos - b.pos || byText(a.key, b.key));
  return placed.map((p) => p.asset);
}

interface WaveSpec {
  amount: Amount;
  observeMs: number;
}

/**
 * Splits a ring's remaining assets into waves. Percentages add up: the sum so far is the share of the
 * ring done by the end of that wave, canary and earlier waves included, rounded up (canary 1 → 25% → 75%:
 * a quarter of the ring, then the rest); a count is that many more assets. The last wave takes whatever remains; empty waves are dropped.
 */
function splitWaves(specs: readonly WaveSpec[], pool: readonly Asset[], total: number, done: number) {
  const out: { assets: Asset[]; spec: WaveSpec }[] = [];
  let taken = 0;
  let assigned = done;
  let pct = 0;
  specs.forEach((spec, i) => {
    const remaining = pool.length - taken;
    let size: number;
    if (i === specs.length - 1) size = remaining;
    else if (spec.amount.kind === "count") size = spec.amount.value;
    else {
      pct += spec.amount.value;
      size = Math.ceil((pct * total) / 100) - assigned;
    }
    size = Math.max(0, Math.min(size, remaining));
    if (size > 0) out.push({ assets: pool.slice(taken, taken + size), spec });
    taken += size;
    assigned += size;
  });
  return out;
}

// ---- batches -----------------------------------------------------------------------------------------

/** maxUnavailable of a group or region of `size` assets: a count, or a percentage rounded down, at least 1. */
function unavailableLimit(amount: Amount, size: number): number {
  // Rounding down keeps to "never more than the policy allows" (Kubernetes rounds maxUnavailable down too).
  const n = amount.kind === "count" ? amount.value : Math.floor((amount.value * size) / 100);
  return Math.max(1, n);
}

/** A budget of `size` assets: a count, or a percentage rounded down (a budget tolerates no more than it says). */
function budgetOf(amount: Amount, size: number): number {
  return amount.kind === "count" ? amount.value : Math.floor((amount.value * size) / 100);
}

interface Limits {
  group: Map<string, number>;
  region: Map<string, number>;
}

/** First fit: each asset goes into the first batch that still has room for its group and its region. */
function batchesOf(assets: readonly Asset[], limits: Limits): Asset[][] {
  const batches: { assets: Asset[]; group: Map<string, number>; region: Map<string, number> }[] = [];
  for (const a of assets) {
    const gMax = limits.group.get(a.group) ?? 1;
    const rMax = limits.region.get(a.region) ?? 1;
    let batch = batches.find(
      (b) => (b.group.get(a.group) ?? 0) < gMax && (b.region.get(a.region) ?? 0) < rMax,
    );
    if (batch === undefined) {
      batch = { assets: [], group: new Map(), region: new Map() };
      batches.push(batch);
    }
    batch.assets.push(a);
    batch.group.set(a.group, (batch.group.get(a.group) ?? 0) + 1);
    batch.region.set(a.region, (batch.region.get(a.region) ?? 0) + 1);
  }
  return batches.map((b) => b.assets.sort(byName));
}

// ---- schedule ----------------------------------------------------------------------------------------

interface Found {
  at: Date;
  decision: StartDecision;
  /** Why the start moved past `from`, in order. */
  notes: string[];
  /** The start is a window's opening that the search jumped to. */
  jumped: boolean;
}

/** The first instant at or after `from` (and before `limit`) at which checkStart allows a start. */
function findStart(policy: Policy, from: Date, limit: Date, opts: StartOptions, zone: string) {
  let t = from;
  let jumped = false;
  const notes: string[] = [];
  for (let step = 0; step < MAX_SCHEDULE_STEPS && t.getTime() <= limit.getTime(); step++) {
    const decision = checkStart(policy, t, opts);
    if (decision.allowed) return { at: t, decision, notes, jumped } satisfies Found;
    jumped = false;
    if (decision.freeze !== undefined && decision.until !== undefined) {
      const until = formatInZone(decision.until, zone);
      notes.push(
        opts.emergency
          ? `freeze "${decision.freeze}" allows no emergency override until ${until}`
          : `frozen by "${decision.freeze}" until ${until}`,
      );
      t = decision.until;
      continue;
    }
    const next = nextWindows(policy, t, 1)[0];
    if (next === undefined) return undefined;
    // nextWindows returns the opening containing `t` if any, which checkStart would have allowed; the
    // minute's step guarantees progress should the two ever disagree.
    t = next.start.getTime() > t.getTime() ? next.start : new Date(t.getTime() + 60_000);
    jumped = true;
  }
  return undefined;
}

function startReason(found: Found, from: Date, emergency: boolean, zone: string): string {
  const { at, decision, notes, jumped } = found;
  let last: string;
  if (decision.window !== undefined) {
    last = jumped
      ? `next window "${decision.window}" at ${formatInZone(at, zone)}`
      : `inside window "${decision.window}"`;
  } else if (emergency) {
    last =
      at.getTime() === from.getTime()
        ? "emergency: starts at once"
        : `emergency: starts ${formatInZone(at, zone)}`;
    if (decision.freeze !== undefined) last += `, overriding freeze "${decision.freeze}"`;
  } else {
    last = "no windows: any time";
  }
  return [...notes, last].join("; ");
}

interface Draft {
  name: string;
  kind: "canary" | "wave";
  ring: Ring;
  batches: Asset[][];
  observeMs: number;
  failureBudget: number;
  gates: PlanGate[];
}

interface Schedule {
  starts: Date[];
  schedule: PlanV2["schedule"];
}

function scheduleDrafts(
  drafts: readonly Draft[],
  input: PlanInput,
  zone: string,
  warnings: string[],
): Schedule {
  const { policy, emergency, now, notBefore } = input;
  const from = notBefore !== undefined && notBefore.getTime() > now.getTime() ? notBefore : now;
  const opts: StartOptions = emergency ? EMERGENCY_VOUCHED : {};
  const starts: Date[] = [];
  let schedule: PlanV2["schedule"] | undefined;
  let earliest = from;
  drafts.forEach((d, i) => {
    const prev = drafts[i - 1];
    if (prev !== undefined) {
      const soak = prev.ring === d.ring ? 0 : d.ring.soakMs;
      const prevStart = starts[i - 1] ?? from;
      earliest = new Date(
        prevStart.getTime() + prev.batches.length * ESTIMATED_BATCH_MS + prev.observeMs + soak,
      );
    }
    if (schedule !== undefined && schedule.start === null) {
      // The plan cannot be scheduled: later phases only get estimates.
      starts.push(earliest);
      return;
    }
    const found = findStart(policy, earliest, new Date(earliest.getTime() + SCHEDULE_HORIZON_MS), opts, zone);
    if (found === undefined) {
      const what =
        i === 0
          ? `no allowed start within a year of ${formatInZone(earliest, zone)}`
          : `phase "${d.name}" has no allowed start within a year of ${formatInZone(earliest, zone)}`;
      warnings.push(`${what}: the plan cannot be scheduled as the policy stands`);
      schedule = { start: null, window: null, reason: what };
      starts.push(earliest);
      return;
    }
    starts.push(found.at);
    if (i === 0) {
      const reason = startReason(found, from, emergency, zone);
      const asked = from === notBefore ? `not before ${formatInZone(from, zone)}; ` : "";
      schedule = {
        start: formatInZone(found.at, zone),
        window: found.decision.window ?? null,
        reason: `${asked}${reason}`,
      };
    }
  });
  return { starts, schedule: schedule ?? { start: null, window: null, reason: "nothing to schedule" } };
}

// ---- targets -----------------------------------------------------------------------------------------

function checkAssets(input: PlanInput): Asset[] {
  if (input.assets.length === 0) {
    throw new ValidationError(`no asset matches the selector ${JSON.stringify(input.selector)}`, {
      where: "/selector",
      details: { selector: input.selector },
    });
  }
  const assets = [...input.assets].sort(byName);
  for (let i = 1; i < assets.length; i++) {
    const name = assets[i]?.name;
    if (name === assets[i - 1]?.name) {
      throw new ValidationError(`asset "${name}" is listed twice`, { where: "/assets", details: { name } });
    }
  }
  return assets;
}

function schemeOf(input: PlanInput): VersionScheme {
  const { ecosystem, version } = input.patch;
  let scheme: VersionScheme;
  try {
    scheme = schemeForEcosystem(ecosystem);
  } catch (err) {
    throw reasonError("plan.unsupported-ecosystem", `no version scheme orders ${ecosystem} versions`, {
      where: "/ecosystem",
      cause: err,
      details: { ecosystem },
    });
  }
  if (!scheme.isValid(version)) {
    throw new ValidationError(`"${version}" is not a valid ${ecosystem} version (${scheme.id} scheme)`, {
      reason: "plan.invalid-version",
      where: "/version",
      details: { ecosystem, version },
    });
  }
  return scheme;
}

interface Split {
  targets: Asset[];
  /** Target id → installed version. */
  from: Map<string, string>;
  skipped: PlanSkip[];
}

/** Targets: the assets with the package installed below the patch's version; the others are skipped. */
function splitByInstalled(fleet: readonly Asset[], input: PlanInput, warnings: string[]): Split {
  const scheme = schemeOf(input);
  const to = input.patch.version;
  const out: Split = { targets: [], from: new Map(), skipped: [] };
  const unknown: string[] = [];
  for (const a of fleet) {
    const installed = input.installed.get(a.id);
    if (installed === undefined) {
      out.skipped.push({ id: a.id, name: a.name, reason: "not-installed", installedVersion: null });
    } else if (!scheme.isValid(installed)) {
      unknown.push(a.name);
      out.skipped.push({ id: a.id, name: a.name, reason: "unknown-version", installedVersion: installed });
    } else if (scheme.compare(installed, to) >= 0) {
      out.skipped.push({ id: a.id, name: a.name, reason: "up-to-date", installedVersion: installed });
    } else {
      out.targets.push(a);
      out.from.set(a.id, installed);
    }
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).join(", ");
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
    warnings.push(
      `${unknown.length} asset(s) report a version of ${input.patch.package} that is not a valid ${input.patch.ecosystem} version (${shown}${more}): skipped`,
    );
  }
  return out;
}

// ---- the plan ----------------------------------------------------------------------------------------

/**
 * Most assets out at once per group and per region, for a policy's maxUnavailable over these assets:
 * a count, or a percentage of the group's (region's) size rounded down, at least 1.
 */
export function unavailableLimits(
  amount: Amount,
  assets: readonly Pick<Asset, "group" | "region">[],
): PlanV2["maxUnavailable"] {
  const limit = (key: (a: Pick<Asset, "group" | "region">) => string) => {
    const sizes = new Map<string, number>();
    for (const a of assets) sizes.set(key(a), (sizes.get(key(a)) ?? 0) + 1);
    const out: Record<string, number> = {};
    for (const k of [...sizes.keys()].sort(byText)) out[k] = unavailableLimit(amount, sizes.get(k) ?? 0);
    return out;
  };
  return { group: limit((a) => a.group), region: limit((a) => a.region) };
}

function limitsFor(amount: Amount, fleet: readonly Asset[]): Limits {
  const limits = unavailableLimits(amount, fleet);
  return { group: new Map(Object.entries(limits.group)), region: new Map(Object.entries(limits.region)) };
}

interface PhaseSpecs {
  canary: CanarySpec;
  canaryObserveMs: number;
  waves: WaveSpec[];
  /** No wave in the policy: one wave of everything after the canary stands in. */
  implicitWave: boolean;
}

/** The policy's phases as a canary and waves; a missing canary or wave is supplied, with a warning. */
function phaseSpecs(policy: Policy, warnings: string[]): PhaseSpecs {
  const rollout = rolloutPlan(policy);
  const observeMs = parseDuration(policy.rollout.observe);
  const first = rollout.phases[0];
  const waves = rollout.phases.flatMap((p) =>
    p.kind === "wave" ? [{ amount: p.amount, observeMs: p.observeMs }] : [],
  );
  let canary: CanarySpec = { amount: { kind: "count", value: 1 } };
  let canaryObserveMs = observeMs;
  if (first?.kind === "canary") {
    canary = "selector" in first ? { selector: first.selector } : { amount: first.amount };
    canaryObserveMs = first.observeMs;
  } else {
    warnings.push("the policy names no canary phase: 1 asset is the canary");
  }
  if (waves.length > 0) return { canary, canaryObserveMs, waves, implicitWave: false };
  return {
    canary,
    canaryObserveMs,
    waves: [{ amount: { kind: "percent", value: 100 }, observeMs }],
    implicitWave: true,
  };
}

/**
 * The gates of each phase, in the order the engine meets them: health and the failure budget while it
 * runs, its deadline, the observation; between rings the soak and the exact promotion; after the last
 * phase the final verification.
 */
function addGates(drafts: readonly Draft[], finalVerification: boolean, deadlineMs: number): void {
  drafts.forEach((d, i) => {
    const next = drafts[i + 1];
    d.gates.push({ kind: "health" }, { kind: "failure-budget", max: d.failureBudget });
    if (deadlineMs > 0) d.gates.push({ kind: "progress-deadline", ms: deadlineMs });
    if (d.observeMs > 0) d.gates.push({ kind: "observation", ms: d.observeMs });
    if (next !== undefined && next.ring !== d.ring) {
      if (next.ring.soakMs > 0)
        d.gates.push({ kind: "soak", ms: next.ring.soakMs, nextRing: next.ring.label });
      if (next.ring.promote === "exact") {
        d.gates.push({ kind: "exact-promotion", fromRing: d.ring.label, toRing: next.ring.label });
      }
    }
    if (next === undefined && finalVerification) d.gates.push({ kind: "final-verification" });
  });
}

function draftPhases(
  targets: readonly Asset[],
  policy: Policy,
  specs: PhaseSpecs,
  warnings: string[],
): { drafts: Draft[]; multiRing: boolean; totalBudget: number } {
  const rollout = rolloutPlan(policy);
  const rings = partitionRings(policy, [...targets], warnings);
  const multiRing = policy.ordering.length > 0;
  const limits = limitsFor(rollout.maxUnavailable, targets);
  const totalBudget = budgetOf(rollout.failureBudget.total, targets.length);
  const waveBudget = (n: number) => Math.min(budgetOf(rollout.failureBudget.perWave, n), totalBudget);
  const drafts: Draft[] = [];
  const qualify = (ring: Ring, name: string) => (multiRing ? `${ring.label}/${name}` : name);
  rings.forEach((ring, r) => {
    let done = 0;
    let pool = ring.assets;
    if (r === 0) {
      const canary = pickCanary(specs.canary, ring, targets, multiRing, warnings);
      const inCanary = new Set(canary);
      done = canary.length;
      pool = ring.assets.filter((a) => !inCanary.has(a));
      drafts.push({
        name: qualify(ring, "canary"),
        kind: "canary",
        ring,
        batches: batchesOf(spreadOrder(canary), limits),
        observeMs: specs.canaryObserveMs,
        // A canary exists to catch a bad patch: any failure stops the rollout, whatever perWave allows.
        failureBudget: 0,
        gates: [],
      });
    }
    splitWaves(specs.waves, spreadOrder(pool), ring.assets.length, done).forEach((wave, w) => {
      drafts.push({
        name: qualify(ring, `wave-${w + 1}`),
        kind: "wave",
        ring,
        batches: batchesOf(wave.assets, limits),
        observeMs: wave.spec.observeMs,
        failureBudget: waveBudget(wave.assets.length),
        gates: [],
      });
    });
  });
  if (specs.implicitWave && drafts.length > 1) {
    warnings.push("the policy names no wave: the assets after the canary go in one wave per ring");
  }
  return { drafts, multiRing, totalBudget };
}

/** When the last phase is expected to end: its start, its batches and its observation. */
export function planEstimatedEnd(phases: readonly PlanPhaseV2[], zone: string): string | null {
  const last = phases.at(-1);
  if (last === undefined) return null;
  const end = new Date(last.start).getTime() + last.batches.length * ESTIMATED_BATCH_MS + last.observeMs;
  return formatInZone(new Date(end), zone);
}

/**
 * Builds the rollout plan. Throws ValidationError when no asset is given (the selector matched
 * nothing), an asset name repeats, the patch's version is not valid in its ecosystem, or a selector in
 * the policy's ordering or canary does not parse. Matched assets that already have the version (or a
 * newer one), or lack the package, are skipped with the reason; when none is left the plan has no
 * phase and cannot be scheduled.
 */
export function buildPlan(input: PlanInput): PlanV2 {
  const { policy } = input;
  const warnings: string[] = [];
  const fleet = checkAssets(input);
  const split = splitByInstalled(fleet, input, warnings);
  const rollout = rolloutPlan(policy);
  const zone = policy.maintenanceWindows[0]?.timezone ?? "UTC";

  let phases: PlanPhaseV2[] = [];
  let totalBudget = 0;
  let schedule: PlanV2["schedule"];
  if (split.targets.length === 0) {
    const reason = `nothing to patch: no matched asset has ${input.patch.package} installed below ${input.patch.version}`;
    warnings.push(`${reason}; the plan cannot be scheduled`);
    schedule = { start: null, window: null, reason };
  } else {
    const specs = phaseSpecs(policy, warnings);
    const drafted = draftPhases(split.targets, policy, specs, warnings);
    totalBudget = drafted.totalBudget;
    addGates(drafted.drafts, rollout.finalVerification, rollout.progressDeadlineMs);
    const scheduled = scheduleDrafts(drafted.drafts, input, zone, warnings);
    schedule = scheduled.schedule;
    phases = drafted.drafts.map(
      (d, i): PlanPhaseV2 => ({
        name: d.name,
        kind: d.kind,
        ring: drafted.multiRing ? d.ring.selector : null,
        assets: d.batches.flat().map((a) => ({ id: a.id, name: a.name })),
        batches: d.batches.map((b) => b.map((a) => a.id)),
        start: formatInZone(scheduled.starts[i] ?? input.now, zone),
        observeMs: d.observeMs,
        failureBudget: d.failureBudget,
        gates: d.gates,
      }),
    );
  }

  const byId = new Map(split.targets.map((a) => [a.id, a]));
  const targets = phases.flatMap((ph) =>
    ph.assets.map(({ id }): PlanTarget => {
      const a = byId.get(id) as Asset;
      return {
        id,
        name: a.name,
        environment: a.environment,
        group: a.group,
        region: a.region,
        fromVersion: split.from.get(id) ?? "",
        toVersion: input.patch.version,
      };
    }),
  );
  return {
    version: 2,
    policy: { ...input.policyRef },
    selector: input.selector,
    emergency: input.emergency,
    timezone: zone,
    createdAt: formatInZone(input.now, zone),
    patch: { ...input.patch },
    targets,
    skipped: split.skipped,
    phases,
    maxUnavailable: unavailableLimits(rollout.maxUnavailable, split.targets),
    totalFailureBudget: totalBudget,
    progressDeadlineMs: rollout.progressDeadlineMs,
    revertTimeoutMs: rollout.revertTimeoutMs,
    notifyBeforeMs: rollout.notifyBeforeMs,
    rollback: rollout.rollback,
    verification: structuredClone(policy.verification),
    finalVerification: rollout.finalVerification,
    schedule,
    warnings,
    summary: {
      toPatch: targets.length,
      skipped: split.skipped.length,
      phases: phases.length,
      rings: new Set(phases.map((ph) => ph.ring)).size,
      earliestStart: schedule.start,
      estimatedEnd: schedule.start === null ? null : planEstimatedEnd(phases, zone),
    },
  };
}
