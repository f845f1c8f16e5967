/**
 * The rollout engine's brain: from the stored state of one rollout (with what the executors observed
 * of its open operations), the verdicts of its gates, the instant and the calendar, the next actions.
 * Pure and total: no I/O, no clock but `now`, no memory of earlier passes (level-triggered), so a pass
 * repeated after a crash decides the same. The safety invariants are enforced here:
 *
 * - max unavailable: an asset is taken out of service (patch or revert dispatched) only while its
 *   group and its region both stay within the plan's limits (invariant 1);
 * - phases run in order, the canary first; the next starts only after the previous passed its gates,
 *   its observation and any soak (invariant 2);
 * - one operation per (change, asset, action, attempt) key: an asset gets an operation only from the
 *   state that precedes it, and the key is derived, never random (invariant 3);
 * - nothing new is patched outside a window or in a freeze; nothing at all is dispatched while paused
 *   or under the emergency stop (invariant 5). A rollback keeps going outside windows and freezes: it
 *   returns hosts to their recorded pre-patch versions, which is what a freeze protects;
 * - a rollback reverts every touched asset of its scope in reverse order, each verified (invariant 6).
 */

import type { Action, AssetFields, RolloutFields } from "./actions.js";
import type { GateResult } from "./gate-input.js";
import { countOneMore, fitsOneMore, unavailableCounts } from "./limits.js";
import {
  type AssetState,
  type OperationAction,
  operationKey,
  type PhaseState,
  type RolloutState,
  TERMINAL_ROLLOUT_STATES,
} from "./model.js";
import { operationIdFor } from "./operation.js";
import {
  type CalendarDecision,
  type GateResultsByPhase,
  gatesOfPhase,
  isFinalOutcome,
  observeMsOf,
  type RolloutView,
  resultOf,
  type ViewAsset,
  type ViewOperation,
  type ViewPhase,
  type ViewRollout,
} from "./view.js";

/** The state_reason prefixes of the pauses the engine makes (and lifts, except a halt). */
export const PAUSE_REASONS = {
  windowClosed: "window-closed:",
  stopAll: "stop-all:",
  halted: "halted:",
} as const;

/** Marks a window pause whose window asked for `pause-now`: queued operations are withdrawn. */
export const PAUSE_NOW_MARK = "(pause-now: queued operations withdrawn)";

const PATCH_IN_FLIGHT: readonly AssetState[] = ["snapshotting", "applying", "verifying"];
const PATCH_STEPS: readonly AssetState[] = ["snapshotting", "applying", "verifying"];
// Gates that decide when the next phase may start (they sit on the phase before it), and the gate
// of the final verification: neither holds up the phase they are listed on.
const ENTRY_GATES = new Set(["soak", "exact-promotion"]);
const FINAL_GATES = new Set(["final-verification"]);

/** The working copy a pass changes as it decides, so later steps see what earlier ones did. */
class Draft {
  readonly actions: Action[] = [];
  readonly rollout: ViewRollout;
  readonly phases: ViewPhase[];
  readonly assets: ViewAsset[];
  readonly ops: ViewOperation[];
  readonly at: string;
  readonly #byId = new Map<string, ViewAsset>();
  readonly #opsByKey = new Map<string, ViewOperation>();

  constructor(
    readonly view: RolloutView,
    readonly now: Date,
  ) {
    this.rollout = { ...view.rollout };
    this.phases = view.phases.map((p) => ({ ...p })).sort((a, b) => a.idx - b.idx);
    this.assets = view.assets.map((a) => ({ ...a })).sort((a, b) => a.seq - b.seq);
    this.ops = view.operations.map((o) => ({ ...o }));
    for (const a of this.assets) this.#byId.set(a.id, a);
    for (const o of this.ops) this.#opsByKey.set(o.key, o);
    this.at = now.toISOString();
  }

  asset(id: string): ViewAsset | undefined {
    return this.#byId.get(id);
  }

  /** The operation of the asset's current attempt for this action. */
  op(asset: ViewAsset, action: OperationAction): ViewOperation | undefined {
    const key = operationKey(this.rollout.changeId, asset.id, action, asset.attempt);
    return this.#opsByKey.get(key);
  }

  moveAsset(a: ViewAsset, to: AssetState, reason: string | null, opId: string | null, set: AssetFields = {}) {
    this.actions.push({ type: "asset.transition", assetId: a.id, from: a.state, to, reason, opId, set });
    a.state = to;
    a.reason = reason;
    if (set.attempt !== undefined) a.attempt = set.attempt;
    if (set.snapshot !== undefined) a.snapshot = set.snapshot;
    if (set.startedAt !== undefined) a.startedAt = set.startedAt;
    if (set.unavailableSince !== undefined) a.unavailableSince = set.unavailableSince;
    if (set.finishedAt !== undefined) a.finishedAt = set.finishedAt;
  }

  /** The new operation's id; null when one with its key exists already (never a second one). */
  dispatch(a: ViewAsset, action: OperationAction): string | null {
    const key = operationKey(this.rollout.changeId, a.id, action, a.attempt);
    if (this.#opsByKey.has(key)) return null;
    const opId = operationIdFor(key);
    this.actions.push({ type: "operation.dispatch", opId, key, assetId: a.id, action, attempt: a.attempt });
    const op: ViewOperation = {
      id: opId,
      key,
      assetId: a.id,
      action,
      attempt: a.attempt,
      state: "queued",
      step: null,
      createdAt: this.at,
      outcome: { status: "pending" },
    };
    this.ops.push(op);
    this.#opsByKey.set(key, op);
    return opId;
  }

  movePhase(
    p: ViewPhase,
    to: PhaseState,
    reason: string,
    set: Extract<Action, { type: "phase.transition" }>["set"] = {},
  ) {
    this.actions.push({ type: "phase.transition", idx: p.idx, from: p.state, to, reason, set });
    p.state = to;
    if (set.startedAt !== undefined) p.startedAt = set.startedAt;
    if (set.observeUntil !== undefined) p.observeUntil = set.observeUntil;
    if (set.finishedAt !== undefined) p.finishedAt = set.finishedAt;
  }

  moveRollout(to: RolloutState, reason: string, set: RolloutFields = {}) {
    this.actions.push({ type: "rollout.transition", from: this.rollout.state, to, reason, set });
    this.rollout.state = to;
    this.rollout.stateReason = reason;
    this.#setRollout(set);
  }

  updateRollout(set: RolloutFields) {
    this.actions.push({ type: "rollout.update", set });
    this.#setRollout(set);
  }

  #setRollout(set: RolloutFields) {
    const r = this.rollout;
    if (set.currentPhase !== undefined) r.currentPhase = set.currentPhase;
    if (set.pausedBy !== undefined) r.pausedBy = set.pausedBy;
    if (set.pausedSince !== undefined) r.pausedSince = set.pausedSince;
    if (set.gateFailedAt !== undefined) r.gateFailedAt = set.gateFailedAt;
    if (set.failedGate !== undefined) r.failedGate = set.failedGate;
    if (set.rollbackScope !== undefined) r.rollbackScope = set.rollbackScope;
  }

  notify(
    event: Extract<Action, { type: "notify" }>["event"],
    occurrence: string,
    data: Record<string, unknown>,
  ) {
    this.actions.push({ type: "notify", event, occurrence, data });
  }

  get currentPhase(): ViewPhase | undefined {
    return this.phases.find((p) => p.idx === this.rollout.currentPhase);
  }

  assetsOf(p: ViewPhase): ViewAsset[] {
    return this.assets.filter((a) => a.phaseIdx === p.idx);
  }
}

/**
 * The next actions for one rollout. `gates` holds the verdicts of the gates of the current phase and of
 * the one before it, evaluated over the same stored state (after the observed results) at `now`.
 */
export function decide(
  view: RolloutView,
  gates: GateResultsByPhase,
  now: Date,
  calendar: CalendarDecision,
): Action[] {
  return absorbed(view, now).decide(gates, calendar);
}

/** The stored state with the observed results taken in, and the decision that goes on from it. */
export interface Absorbed {
  /** What gates are evaluated over. Read, never changed; it changes itself once `decide` runs. */
  readonly view: RolloutView;
  /** The next actions, as `decide` gives them for the view this came from; once. */
  decide(gates: GateResultsByPhase, calendar: CalendarDecision): Action[];
}

/**
 * The rollout's stored state with the observed results taken in: what gates are evaluated over. The
 * decision then goes on from the same working copy, so a pass copies and absorbs the view once.
 */
export function absorbed(view: RolloutView, now: Date): Absorbed {
  const d = new Draft(view, now);
  absorb(d);
  let decided = false;
  return {
    view: { ...view, rollout: d.rollout, phases: d.phases, assets: d.assets, operations: d.ops },
    decide: (gates, calendar) => {
      if (decided) throw new Error("an absorbed state decides once");
      decided = true;
      return decideDraft(d, gates, calendar);
    },
  };
}

function decideDraft(d: Draft, gates: GateResultsByPhase, calendar: CalendarDecision): Action[] {
  if (TERMINAL_ROLLOUT_STATES.includes(d.view.rollout.state)) return [];
  recordGateResults(d, gates);
  switch (d.rollout.state) {
    case "pending":
      d.moveRollout("running", "started");
      run(d, gates, calendar);
      break;
    case "running":
      run(d, gates, calendar);
      break;
    case "rolling-back":
      rollBack(d);
      break;
    case "paused":
      paused(d, gates, calendar);
      break;
    default:
      break;
  }
  bookkeepPause(d);
  return d.actions;
}

// ---- results ---------------------------------------------------------------------------------------

/** How a revert given up at its own timeout is marked: the rollback reports it as hung. */
const REVERT_HUNG = "hung:";

/** The error of an open operation given up at its timeout. */
function timedOut(op: ViewOperation, timeoutMs: number): string {
  return op.action === "revert"
    ? `${REVERT_HUNG} no result within ${timeoutMs} ms of its dispatch (rollout.revertTimeout)`
    : `no result within ${timeoutMs} ms of its dispatch`;
}

function absorb(d: Draft): void {
  for (const op of d.ops) {
    let outcome = op.outcome;
    const open = op.state === "queued" || op.state === "leased";
    // A revert gets its own bound: the forward phase's deadline must not cut a rollback short.
    const timeout = op.action === "revert" ? d.view.revertTimeoutMs : d.view.operationTimeoutMs;
    if (open && !isFinalOutcome(outcome) && timeout > 0) {
      const age = d.now.getTime() - new Date(op.createdAt).getTime();
      if (age > timeout) {
        outcome = { status: "lost", error: timedOut(op, timeout) };
        d.actions.push(finish(op, "lost", null, outcome.error, true));
        op.state = "lost";
      }
    } else if (open && isFinalOutcome(outcome) && outcome.status !== "cancelled") {
      const error = outcome.status === "succeeded" ? null : outcome.error;
      d.actions.push(finish(op, outcome.status, resultOf(outcome), error, false));
      op.state = outcome.status;
    }
    op.outcome = outcome;
    const asset = d.asset(op.assetId);
    if (asset === undefined || asset.attempt !== op.attempt) continue;
    if (op.action === "patch") absorbPatch(d, asset, op);
    else if (op.action === "revert") absorbRevert(d, asset, op);
  }
}

function finish(
  op: ViewOperation,
  state: "succeeded" | "failed" | "lost",
  result: ReturnType<typeof resultOf>,
  error: string | null,
  withdraw: boolean,
): Action {
  return { type: "operation.finish", opId: op.id, assetId: op.assetId, state, result, error, withdraw };
}

function failedChecks(result: NonNullable<ReturnType<typeof resultOf>>): string | null {
  const bad = result.checks.filter((c) => !c.ok);
  if (bad.length === 0) return result.ok ? null : (result.error ?? "the host reported a failure");
  return bad.map((c) => `health check ${c.name} failed: ${c.detail}`).join("; ");
}

function absorbPatch(d: Draft, a: ViewAsset, op: ViewOperation): void {
  if (!PATCH_IN_FLIGHT.includes(a.state)) return;
  const o = op.outcome;
  if (o.status === "cancelled") {
    if (a.state === "snapshotting") {
      d.moveAsset(a, "pending", "its queued operation was withdrawn before a host took it", op.id, {
        attempt: a.attempt + 1,
        unavailableSince: null,
      });
    } else {
      // A host had reported a step of it: what it changed is unknown, so a rollback reverts it.
      d.moveAsset(a, "failed", "its operation was withdrawn after it started", op.id);
    }
    return;
  }
  if (o.status === "pending") return;
  if (o.status === "running") {
    stepTo(d, a, o.step, op.id, null);
    return;
  }
  if (o.status === "lost") {
    d.moveAsset(a, "failed", `lost: ${o.error}`, op.id);
    return;
  }
  const result = o.result;
  const snapshot = a.snapshot ?? result?.snapshot ?? null;
  if (o.status === "failed" || result === null) {
    const error = o.status === "failed" ? o.error : "no result";
    d.moveAsset(a, "failed", error, op.id, { snapshot });
    return;
  }
  const bad =
    result.installedVersion !== a.toVersion
      ? `version read back is ${result.installedVersion ?? "none"}, expected ${a.toVersion}`
      : failedChecks(result);
  if (bad !== null) {
    d.moveAsset(a, "failed", bad, op.id, { snapshot });
    return;
  }
  // The host may report its result before the engine saw every step: walk the asset through them.
  stepTo(d, a, "verifying", op.id, result.startedAt);
  d.moveAsset(a, "done", null, op.id, {
    snapshot,
    startedAt: a.startedAt ?? result.startedAt,
    unavailableSince: null,
    finishedAt: d.at,
  });
}

/** Moves an asset forward through the patch steps up to `step` (never back). */
function stepTo(d: Draft, a: ViewAsset, step: string | null, opId: string, startedAt: string | null): void {
  const target = PATCH_STEPS.indexOf(step as AssetState);
  for (let i = PATCH_STEPS.indexOf(a.state) + 1; i <= target && i > 0; i++) {
    const to = PATCH_STEPS[i] as AssetState;
    // The install begins with `applying`: that is the asset's startedAt.
    const set: AssetFields =
      to === "applying" && a.startedAt === null ? { startedAt: startedAt ?? d.at } : {};
    d.moveAsset(a, to, null, opId, set);
  }
}

function absorbRevert(d: Draft, a: ViewAsset, op: ViewOperation): void {
  if (a.state !== "reverting") return;
  const o = op.outcome;
  if (o.status === "pending" || o.status === "running") return;
  if (o.status === "cancelled") {
    d.moveAsset(a, "failed", "revert failed: its operation was withdrawn", op.id);
    return;
  }
  if (o.status === "lost") {
    const why = o.error.startsWith(REVERT_HUNG) ? `revert ${o.error}` : `revert failed: lost: ${o.error}`;
    d.moveAsset(a, "failed", why, op.id);
    return;
  }
  const result = o.result;
  if (o.status === "failed" || result === null) {
    d.moveAsset(a, "failed", `revert failed: ${o.status === "failed" ? o.error : "no result"}`, op.id);
    return;
  }
  const bad =
    a.fromVersion !== null && result.installedVersion !== a.fromVersion
      ? `version read back is ${result.installedVersion ?? "none"}, expected ${a.fromVersion}`
      : failedChecks(result);
  if (bad !== null) {
    d.moveAsset(a, "failed", `revert failed: ${bad}`, op.id);
    return;
  }
  d.moveAsset(a, "reverted", null, op.id, { unavailableSince: null, finishedAt: d.at });
}

/** The asset's revert ran and did not bring it back: a rollback that ends so is `failed`. */
function revertFailed(d: Draft, a: ViewAsset): boolean {
  if (a.state !== "failed") return false;
  const op = d.op(a, "revert");
  return op !== undefined && isFinalOutcome(op.outcome) && op.outcome.status !== "succeeded";
}

/** The asset's revert was given up at the revert timeout: the host never answered. */
function revertHung(d: Draft, a: ViewAsset): boolean {
  const op = d.op(a, "revert");
  return op?.outcome.status === "lost" && op.outcome.error.startsWith(REVERT_HUNG);
}

/**
 * Whether the asset's host may have changed: a failed asset whose host reported that its snapshot
 * could not be taken (so nothing was installed) is the one that was not.
 */
function touched(d: Draft, a: ViewAsset): boolean {
  if (a.state === "done" || a.state === "reverting") return true;
  if (a.state !== "failed") return false;
  if (a.snapshot !== null) return true;
  const op = d.op(a, "patch");
  if (op === undefined) return d.op(a, "revert") !== undefined;
  const result = resultOf(op.outcome);
  if (op.outcome.status === "failed" && result !== null) {
    return result.snapshot !== undefined || result.installedVersion !== a.fromVersion;
  }
  return true;
}

// ---- gates -------------------------------------------------------------------------------------------

function sameVerdicts(a: readonly GateResult[], b: readonly GateResult[]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.kind === b[i]?.kind && r.status === b[i]?.status && r.reason === b[i]?.reason)
  );
}

function recordGateResults(d: Draft, gates: GateResultsByPhase): void {
  for (const [idx, results] of gates) {
    const phase = d.phases.find((p) => p.idx === idx);
    if (phase === undefined || sameVerdicts(phase.gateResults, results)) continue;
    d.actions.push({ type: "phase.gates", idx, results: [...results] });
    phase.gateResults = [...results];
  }
}

/** The verdicts for the gates of `roles` of a phase; null when a gate has none yet (wait). */
function verdictsOf(
  d: Draft,
  gates: GateResultsByPhase,
  p: ViewPhase,
  select: (kind: string) => boolean,
): GateResult[] | null {
  const wanted = gatesOfPhase(d.view.plan, p.idx).filter((g) => select(g.kind));
  const results = gates.get(p.idx) ?? [];
  const out: GateResult[] = [];
  for (const g of wanted) {
    const r = results.find((x) => x.kind === g.kind);
    if (r === undefined) return null;
    out.push(r);
  }
  return out;
}

const phaseGate = (kind: string): boolean => !ENTRY_GATES.has(kind) && !FINAL_GATES.has(kind);

function synthesized(d: Draft, kind: GateResult["kind"], reason: string): GateResult {
  return { kind, status: "fail", reason, evaluatedAt: d.at };
}

/** The failure budget, counted here as well: the engine never relies on an evaluator for it. */
function overBudget(d: Draft, p: ViewPhase): GateResult | null {
  const plan = d.view.plan;
  const phase = plan.phases[p.idx];
  if (phase === undefined) return null;
  const inPhase = d.assetsOf(p).filter((a) => a.state === "failed").length;
  const total = d.assets.filter((a) => a.state === "failed").length;
  if (inPhase > phase.failureBudget) {
    return synthesized(d, "failure-budget", `${inPhase} failed in ${p.name}, budget ${phase.failureBudget}`);
  }
  if (total > plan.totalFailureBudget) {
    return synthesized(
      d,
      "failure-budget",
      `${total} failed in the rollout, total budget ${plan.totalFailureBudget}`,
    );
  }
  return null;
}

// ---- running -------------------------------------------------------------------------------------------

function run(d: Draft, gates: GateResultsByPhase, calendar: CalendarDecision): void {
  if (d.rollout.rollbackScope !== null) {
    // Resumed while a rollback was under way: the rollback goes on.
    d.moveRollout("rolling-back", "resumed: the rollback goes on");
    rollBack(d);
    return;
  }
  if (d.view.stopAll !== null) {
    d.moveRollout("paused", `${PAUSE_REASONS.stopAll} ${d.view.stopAll}`, { pausedBy: null });
    return;
  }
  if (!calendar.allowed) {
    const mark = calendar.onClose === "pause-now" ? ` ${PAUSE_NOW_MARK}` : "";
    d.moveRollout("paused", `${PAUSE_REASONS.windowClosed} ${calendar.reason}${mark}`, { pausedBy: null });
    if (calendar.onClose === "pause-now") withdrawQueuedPatches(d);
    return;
  }
  advance(d, gates);
}

function advance(d: Draft, gates: GateResultsByPhase): void {
  // Each turn moves one phase at most one step; the bound keeps a defect from looping.
  for (let turn = 0; turn < 4 * (d.phases.length + 1); turn++) {
    const p = d.currentPhase;
    if (p === undefined) {
      complete(d);
      return;
    }
    switch (p.state) {
      case "passed":
      case "skipped":
        d.updateRollout({ currentPhase: p.idx + 1 });
        continue;
      case "pending":
        if (!mayStart(d, gates, p)) return;
        startPhase(d, p);
        continue;
      case "failed":
        // Only after `rollout resume` of a halted rollout: the phase is judged again from scratch.
        d.updateRollout({ gateFailedAt: null, failedGate: null });
        d.movePhase(p, "running", "resumed after a halt");
        continue;
      case "running":
        // Never work on a phase while an earlier one is unfinished, whatever the stored state says.
        if (!earlierFinished(d, p)) return;
        if (p.kind === "final" ? !runFinal(d, gates, p) : !runPhase(d, gates, p)) return;
        continue;
      case "observing":
        if (!earlierFinished(d, p) || !observe(d, gates, p)) return;
        continue;
      default:
        return;
    }
  }
}

function earlierFinished(d: Draft, p: ViewPhase): boolean {
  return d.phases.every((q) => q.idx >= p.idx || q.state === "passed" || q.state === "skipped");
}

function mayStart(d: Draft, gates: GateResultsByPhase, p: ViewPhase): boolean {
  if (!earlierFinished(d, p)) return false;
  const prev = d.phases.filter((q) => q.idx < p.idx).at(-1);
  if (prev === undefined || prev.state === "skipped") return true;
  const entry = verdictsOf(d, gates, prev, (k) => ENTRY_GATES.has(k));
  if (entry === null) return false;
  return entry.every((r) => r.status === "pass");
}

function startPhase(d: Draft, p: ViewPhase): void {
  if (p.kind !== "final" && d.assetsOf(p).every((a) => a.state === "skipped")) {
    d.movePhase(p, "skipped", "no asset to patch", { finishedAt: d.at });
    return;
  }
  d.movePhase(p, "running", "started", { startedAt: d.at });
}

/** Dispatches what the limits allow; true when the phase passed (or moved on to observing). */
/**
 * The first failing verdict: a missed deadline first (an operation given up at the deadline also
 * fails its asset, but the deadline is the cause), then the budget as counted here, then any other.
 */
function failingVerdict(d: Draft, p: ViewPhase, verdicts: GateResult[] | null): GateResult | null {
  const failed = (verdicts ?? []).filter((r) => r.status === "fail");
  return failed.find((r) => r.kind === "progress-deadline") ?? overBudget(d, p) ?? failed[0] ?? null;
}

function runPhase(d: Draft, gates: GateResultsByPhase, p: ViewPhase): boolean {
  const verdicts = verdictsOf(d, gates, p, phaseGate);
  const failing = failingVerdict(d, p, verdicts);
  if (failing !== null) {
    gateFailed(d, p, failing);
    return false;
  }
  dispatchPatches(d, p);
  const assets = d.assetsOf(p);
  if (assets.some((a) => a.state === "pending" || PATCH_IN_FLIGHT.includes(a.state))) return false;
  // Every asset ended: its gates decide. Observation waits for the phase to be observing.
  const settled = verdicts?.filter((r) => r.kind !== "observation") ?? null;
  if (settled === null || settled.some((r) => r.status !== "pass")) return false;
  if (assets.some((a) => a.state !== "done" && a.state !== "failed" && a.state !== "skipped")) return false;
  const observeMs = observeMsOf(d.view.plan, p.idx);
  const until = new Date(d.now.getTime() + observeMs).toISOString();
  d.movePhase(p, "observing", `verified; observing for ${observeMs} ms`, { observeUntil: until });
  return true;
}

function dispatchPatches(d: Draft, p: ViewPhase): void {
  const counts = unavailableCounts(d.assets);
  for (const a of d.assetsOf(p)) {
    if (a.state !== "pending") continue;
    if (!a.present) {
      d.moveAsset(a, "skipped", "it left the fleet", null);
      continue;
    }
    if (!fitsOneMore(d.view.plan, counts, a)) continue;
    const opId = d.dispatch(a, "patch");
    if (opId === null) continue;
    countOneMore(counts, a);
    d.moveAsset(a, "snapshotting", null, opId, { unavailableSince: d.at, finishedAt: null });
  }
}

function observe(d: Draft, gates: GateResultsByPhase, p: ViewPhase): boolean {
  const verdicts = verdictsOf(d, gates, p, phaseGate);
  const failing = failingVerdict(d, p, verdicts);
  if (failing !== null) {
    gateFailed(d, p, failing);
    return false;
  }
  const elapsed =
    p.promotedBy !== null ||
    (p.observeUntil !== null && d.now.getTime() >= new Date(p.observeUntil).getTime());
  if (!elapsed || verdicts === null || verdicts.some((r) => r.status !== "pass")) return false;
  const reason = p.promotedBy !== null ? `promoted by ${p.promotedBy}` : "observed";
  d.movePhase(p, "passed", reason, { finishedAt: d.at });
  return true;
}

function runFinal(d: Draft, gates: GateResultsByPhase, p: ViewPhase): boolean {
  const verdicts = verdictsOf(d, gates, p, () => true);
  const done = d.assets.filter((a) => a.state === "done");
  const verifyFailed = done.find((a) => {
    const op = d.op(a, "verify");
    return op !== undefined && isFinalOutcome(op.outcome) && op.outcome.status !== "succeeded";
  });
  const failing =
    verdicts?.find((r) => r.status === "fail") ??
    (verifyFailed
      ? synthesized(d, "final-verification", `final verification failed on ${verifyFailed.name}`)
      : null);
  if (failing !== null) {
    gateFailed(d, p, failing);
    return false;
  }
  let dispatched = false;
  for (const a of done) {
    // A verification changes nothing on the host: the asset stays in service.
    if (d.dispatch(a, "verify") !== null) dispatched = true;
  }
  if (dispatched) return false;
  const allVerified = done.every((a) => d.op(a, "verify")?.outcome.status === "succeeded");
  if (!allVerified || verdicts === null || verdicts.some((r) => r.status !== "pass")) return false;
  d.movePhase(p, "passed", "every patched asset verified again", { finishedAt: d.at });
  return true;
}

function complete(d: Draft): void {
  const done = d.assets.filter((a) => a.state === "done").length;
  const failed = d.assets.filter((a) => a.state === "failed").length;
  d.moveRollout("completed", `${done} patched, ${failed} failed within budget`, { finishedAt: d.at });
  d.notify("completed", d.rollout.id, { patched: done, failed });
}

function gateFailed(d: Draft, p: ViewPhase, result: GateResult): void {
  d.movePhase(p, "failed", `${result.kind}: ${result.reason}`, { finishedAt: d.at });
  const why = `${p.name}: ${result.kind} gate failed: ${result.reason}`;
  d.notify("failed", `gate-${d.at}`, { phase: p.name, gate: result.kind, reason: result.reason });
  if (d.view.plan.rollback === "manual") {
    d.moveRollout("paused", `${PAUSE_REASONS.halted} ${why}`, {
      pausedBy: null,
      gateFailedAt: d.at,
      failedGate: result,
    });
    return;
  }
  const scope = p.kind === "canary" ? "phase" : "change";
  d.moveRollout("rolling-back", why, { gateFailedAt: d.at, failedGate: result, rollbackScope: scope });
  rollBack(d);
}

// ---- rolling back -----------------------------------------------------------------------------------

/** Withdraws patch operations no host has taken yet; the next pass puts their assets back to pending. */
function withdrawQueuedPatches(d: Draft): void {
  for (const a of d.assets) {
    if (a.state !== "snapshotting") continue;
    const op = d.op(a, "patch");
    if (op?.state === "queued" && op.outcome.status === "pending") {
      d.actions.push({ type: "operation.withdraw", opId: op.id, assetId: a.id });
    }
  }
}

function inScope(d: Draft, a: ViewAsset): boolean {
  return d.rollout.rollbackScope !== "phase" || a.phaseIdx === d.rollout.currentPhase;
}

function rollBack(d: Draft): void {
  if (d.view.stopAll !== null) {
    d.moveRollout("paused", `${PAUSE_REASONS.stopAll} ${d.view.stopAll}`, { pausedBy: null });
    return;
  }
  withdrawQueuedPatches(d);
  // Let every patch in flight end (or time out) first: its asset is then done or failed, and known.
  if (d.assets.some((a) => PATCH_IN_FLIGHT.includes(a.state))) return;
  const scope = d.assets.filter((a) => inScope(d, a));
  const targets = scope
    .filter((a) => a.state === "done" || (a.state === "failed" && touched(d, a) && !revertFailed(d, a)))
    .sort((a, b) => b.seq - a.seq);
  const counts = unavailableCounts(d.assets);
  for (const a of targets) {
    // A failed asset is out of service already; a done one must fit (in reverse order: stop at the first that does not).
    if (a.state === "done" && !fitsOneMore(d.view.plan, counts, a)) break;
    const opId = d.dispatch(a, "revert");
    if (opId === null) continue;
    if (a.state === "done") countOneMore(counts, a);
    d.moveAsset(a, "reverting", "rolling back", opId, {
      unavailableSince: a.unavailableSince ?? d.at,
      finishedAt: null,
    });
  }
  if (d.assets.some((a) => a.state === "reverting")) return;
  finishRollback(d, scope);
}

function finishRollback(d: Draft, scope: ViewAsset[]): void {
  const broken = scope.filter((a) => revertFailed(d, a)).map((a) => a.name);
  const reverted = scope.filter((a) => a.state === "reverted");
  const gateAt = d.rollout.gateFailedAt === null ? null : new Date(d.rollout.gateFailedAt).getTime();
  const last = Math.max(...reverted.map((a) => new Date(a.finishedAt ?? d.at).getTime()));
  const timeToRollbackMs = gateAt !== null && reverted.length > 0 ? Math.max(0, last - gateAt) : null;
  const set: RolloutFields = { finishedAt: d.at, timeToRollbackMs };
  const failedGate = d.rollout.failedGate;
  const whatFailed = { gate: failedGate, phase: d.currentPhase?.name ?? null };
  if (broken.length > 0) {
    const hung = scope.filter((a) => revertFailed(d, a) && revertHung(d, a)).map((a) => a.name);
    const others = broken.filter((name) => !hung.includes(name));
    const reason = [
      ...(hung.length > 0 ? [`revert hung on ${hung.join(", ")}`] : []),
      ...(others.length > 0 ? [`revert failed on ${others.join(", ")}`] : []),
    ].join("; ");
    d.moveRollout("failed", reason, set);
    d.actions.push({
      type: "incident.open",
      outcome: "failed",
      whatFailed: { ...whatFailed, revertFailed: broken, revertHung: hung },
    });
    d.notify("failed", "rollback-failed", { revertFailed: broken, revertHung: hung, timeToRollbackMs });
    return;
  }
  if (failedGate?.kind === "abort") {
    d.moveRollout("aborted", `aborted by ${failedGate.by}: ${failedGate.reason}`, set);
    return;
  }
  d.moveRollout("rolled-back", `${reverted.length} assets reverted`, set);
  d.actions.push({ type: "incident.open", outcome: "rolled-back", whatFailed });
  d.notify("rolled-back", d.rollout.id, { reverted: reverted.map((a) => a.name), timeToRollbackMs });
}

// ---- paused ----------------------------------------------------------------------------------------------

function paused(d: Draft, gates: GateResultsByPhase, calendar: CalendarDecision): void {
  const reason = d.rollout.stateReason ?? "";
  if (reason.includes(PAUSE_NOW_MARK)) withdrawQueuedPatches(d);
  const engineMade =
    d.rollout.pausedBy === null &&
    (reason.startsWith(PAUSE_REASONS.windowClosed) || reason.startsWith(PAUSE_REASONS.stopAll));
  if (!engineMade || d.view.stopAll !== null) return;
  if (d.rollout.rollbackScope !== null) {
    d.moveRollout("rolling-back", "resumed: the emergency stop was lifted");
    rollBack(d);
    return;
  }
  if (!calendar.allowed) return;
  d.moveRollout("running", `resumed: ${calendar.reason}`);
  run(d, gates, calendar);
}

/**
 * A pause is announced once, when the engine first sees it (its own or an operator's), and its length
 * is added to the current phase's paused time when it ends, so the phase's deadline excludes it.
 */
function bookkeepPause(d: Draft): void {
  const r = d.rollout;
  if (r.state === "paused" && r.pausedSince === null) {
    d.updateRollout({ pausedSince: d.at });
    d.notify("paused", `paused-${d.at}`, { reason: r.stateReason, by: r.pausedBy });
    return;
  }
  if (r.state !== "paused" && r.pausedSince !== null) {
    const since = r.pausedSince;
    const p = d.currentPhase;
    const ms = Math.max(0, d.now.getTime() - new Date(since).getTime());
    if (p !== undefined && ms > 0) {
      d.actions.push({ type: "phase.paused", idx: p.idx, addMs: ms });
      p.pausedMs += ms;
    }
    d.updateRollout({ pausedSince: null });
    const aborted = r.failedGate?.kind === "abort";
    if ((r.state === "running" || r.state === "rolling-back") && !aborted) {
      d.notify("resumed", `paused-${since}`, { reason: r.stateReason });
    }
  }
}
