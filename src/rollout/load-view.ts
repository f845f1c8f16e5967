/** Reads one rollout's whole stored state into a RolloutView (the open operations not yet observed). */
import type { Kysely, Selectable } from "kysely";
import type { PlanV2 } from "../changes/plan.js";
import type { Database, OperationsTable } from "../store/schema.js";
import { preparedQuery } from "../store/statement-cache.js";
import type { GateResult } from "./gate-input.js";
import {
  type AssetState,
  DEFAULT_REVERT_TIMEOUT_MS,
  isAssetState,
  isRolloutState,
  OPERATION_ACTIONS,
  OPERATION_STATES,
  type OperationAction,
  type OperationState,
  PHASE_STATES,
  type PhaseState,
  STOP_ALL_SWITCH,
  TERMINAL_ROLLOUT_STATES,
} from "./model.js";
import {
  type OperationPayload,
  type OperationSpec,
  operationPayloadSchema,
  operationResultSchema,
  type Snapshot,
} from "./operation.js";
import { type AssetRow, forgetRolloutRows, type OperationRow, readRows } from "./rollout-rows.js";
import type { FailedGateAbort, RolloutView, ViewAsset, ViewOperation, ViewPhase } from "./view.js";

export interface LoadedRollout {
  view: RolloutView;
  /** The open operations with what their executors need, to be observed before deciding. */
  open: Array<{ op: ViewOperation; spec: OperationSpec; executor: string }>;
  /** The change's facts the calendar needs (an emergency may override windows and freezes). */
  change: { emergency: boolean; justification: string | null; overrideApprover: string | null };
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function phaseState(value: string): PhaseState {
  if (!(PHASE_STATES as readonly string[]).includes(value)) throw new Error(`unknown phase state "${value}"`);
  return value as PhaseState;
}

function assetState(value: string): AssetState {
  if (!isAssetState(value)) throw new Error(`unknown asset state "${value}"`);
  return value;
}

function opState(value: string): OperationState {
  if (!(OPERATION_STATES as readonly string[]).includes(value))
    throw new Error(`unknown operation state "${value}"`);
  return value as OperationState;
}

function opAction(value: string): OperationAction {
  if (!(OPERATION_ACTIONS as readonly string[]).includes(value)) throw new Error(`unknown action "${value}"`);
  return value as OperationAction;
}

/** Operations past their last change: a finished one (succeeded, failed, lost, cancelled) is never written again. */
const FINISHED_STATES: readonly string[] = ["succeeded", "failed", "lost", "cancelled"];

/**
 * Outcomes of finished operations, per store and operation: every engine pass reads each operation of
 * the rollout, most of them finished long ago, and reading and parsing their results again was the
 * pass's largest cost on a large rollout. A finished row is never written again (every write of an
 * operation is guarded by an open state), so its outcome is read once; the state and error are still
 * compared. Keyed by the store's handle, since operation ids derive from idempotency keys that another
 * store may hold too. The outcomes are read, never changed.
 */
const FINISHED_OUTCOMES = new WeakMap<
  Kysely<Database>,
  Map<string, { state: string; error: string | null; outcome: ViewOperation["outcome"] }>
>();
const FINISHED_OUTCOMES_MAX = 20_000;

function finishedOutcomes(db: Kysely<Database>) {
  let map = FINISHED_OUTCOMES.get(db);
  if (!map) {
    map = new Map();
    FINISHED_OUTCOMES.set(db, map);
  }
  return map;
}

/**
 * The stored outcomes of these operation rows (read without their results): open ones are pending;
 * finished ones come from the cache above, or have their results read (in chunks) and parsed once.
 */
async function outcomesOf(
  db: Kysely<Database>,
  rows: ReadonlyArray<Pick<Selectable<OperationsTable>, "id" | "state" | "error">>,
): Promise<Map<string, ViewOperation["outcome"]>> {
  const cache = finishedOutcomes(db);
  const out = new Map<string, ViewOperation["outcome"]>();
  const unread: string[] = [];
  for (const row of rows) {
    if (!FINISHED_STATES.includes(row.state)) {
      out.set(row.id, parseOutcome({ state: row.state, error: row.error, result: null }));
      continue;
    }
    const known = cache.get(row.id);
    if (known && known.state === row.state && known.error === row.error) out.set(row.id, known.outcome);
    else unread.push(row.id);
  }
  for (let i = 0; i < unread.length; i += 500) {
    const read = await db
      .selectFrom("operations")
      .select(["id", "state", "error", "result"])
      .where("id", "in", unread.slice(i, i + 500))
      .execute();
    for (const r of read) {
      const outcome = parseOutcome(r);
      out.set(r.id, outcome);
      if (!FINISHED_STATES.includes(r.state)) continue;
      cache.delete(r.id);
      cache.set(r.id, { state: r.state, error: r.error, outcome });
      evictOldest(cache, FINISHED_OUTCOMES_MAX);
    }
  }
  return out;
}

function evictOldest(map: Map<string, unknown>, max: number): void {
  if (map.size <= max) return;
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}

/** What a finished operation row says became of it; an open one is observed through its executor. */
function parseOutcome(
  row: Pick<Selectable<OperationsTable>, "state" | "result" | "error">,
): ViewOperation["outcome"] {
  const parsed = row.result === null ? null : operationResultSchema.safeParse(JSON.parse(row.result));
  const result = parsed?.success ? parsed.data : null;
  switch (row.state) {
    case "succeeded":
      return result === null
        ? { status: "failed", result: null, error: "the stored result cannot be read" }
        : { status: "succeeded", result };
    case "failed":
      return { status: "failed", result, error: row.error ?? result?.error ?? "failed" };
    case "lost":
      return { status: "lost", error: row.error ?? "lost" };
    case "cancelled":
      return { status: "cancelled" };
    default:
      return { status: "pending" };
  }
}

/** Parsed JSON kept with its text: a key met again with other text (another store) is parsed afresh. */
class ParsedCache<T> {
  private readonly entries = new Map<string, { text: string; value: T }>();
  constructor(private readonly max: number) {}

  get(key: string, text: string): T {
    const known = this.entries.get(key);
    if (known?.text === text) return known.value;
    const value = JSON.parse(text) as T;
    this.entries.delete(key);
    this.entries.set(key, { text, value });
    evictOldest(this.entries, this.max);
    return value;
  }
}

/**
 * Plans by store and rollout: a plan is written with its rollout and never again (src/rollout/starter.ts),
 * and reading and parsing it (every target and phase of a large fleet) on every pass was a large part
 * of the pass. So it is read once. Read, never changed.
 */
const PLANS = new WeakMap<Kysely<Database>, Map<string, PlanV2>>();
const PLANS_MAX = 100;

async function frozenPlan(db: Kysely<Database>, rolloutId: string): Promise<PlanV2> {
  let plans = PLANS.get(db);
  if (!plans) {
    plans = new Map();
    PLANS.set(db, plans);
  }
  const known = plans.get(rolloutId);
  if (known) return known;
  const [row] = (await planOf(db, rolloutId)).rows;
  if (!row) throw new Error(`rollout ${rolloutId} has no plan`);
  const plan = JSON.parse(row.plan) as PlanV2;
  plans.set(rolloutId, plan);
  evictOldest(plans, PLANS_MAX);
  return plan;
}
/**
 * The view of each row as read, by the row object itself: the rows a pass did not read again (rollout-rows.ts
 * keeps them between passes) give the same, frozen, view objects instead of new ones for every asset
 * and finished operation on every pass. Nothing changes a view in place (decide works on copies), and
 * a row read again is a new object, so its view is built afresh. Open operations are not kept: their
 * outcome is observed on each pass.
 */
interface RowViews {
  assets: WeakMap<AssetRow, ViewAsset>;
  operations: WeakMap<OperationRow, ViewOperation>;
}
const ROW_VIEWS = new WeakMap<Kysely<Database>, RowViews>();

function viewsOf(db: Kysely<Database>): RowViews {
  let views = ROW_VIEWS.get(db);
  if (!views) {
    views = { assets: new WeakMap(), operations: new WeakMap() };
    ROW_VIEWS.set(db, views);
  }
  return views;
}

/** Assets' snapshots by rollout and asset, as plans. */
const PARSED_SNAPSHOTS = new ParsedCache<Snapshot>(20_000);

/**
 * Open operations' payloads, parsed, by store and operation: a payload is written once, with its
 * operation, and never changed, so it is read and parsed once instead of on every pass.
 */
const PARSED_PAYLOADS = new WeakMap<Kysely<Database>, Map<string, OperationPayload>>();
const PARSED_PAYLOADS_MAX = 20_000;

async function payloadsOf(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, OperationPayload>> {
  let cache = PARSED_PAYLOADS.get(db);
  if (!cache) {
    cache = new Map();
    PARSED_PAYLOADS.set(db, cache);
  }
  const out = new Map<string, OperationPayload>();
  const unread: string[] = [];
  for (const id of ids) {
    const known = cache.get(id);
    if (known) out.set(id, known);
    else unread.push(id);
  }
  for (let i = 0; i < unread.length; i += 500) {
    const rows = await db
      .selectFrom("operations")
      .select(["id", "payload"])
      .where("id", "in", unread.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      const payload = operationPayloadSchema.parse(JSON.parse(r.payload));
      out.set(r.id, payload);
      cache.set(r.id, payload);
      evictOldest(cache, PARSED_PAYLOADS_MAX);
    }
  }
  return out;
}

// Read on every pass: compiled once (see preparedQuery). Every column but the plan, read once (below).
const rolloutRow = preparedQuery((db, id: string) =>
  db
    .selectFrom("rollouts")
    .select([
      "id",
      "change_id",
      "state",
      "state_reason",
      "paused_by",
      "paused_since",
      "current_phase",
      "gate_failed_at",
      "failed_gate",
      "rollback_scope",
      "revision",
      "started_at",
    ])
    .where("id", "=", id),
);
const planOf = preparedQuery((db, id: string) =>
  db.selectFrom("rollouts").select("plan").where("id", "=", id),
);
const phasesOf = preparedQuery((db, id: string) =>
  db.selectFrom("rollout_phases").selectAll().where("rollout_id", "=", id).orderBy("idx"),
);
const stopSwitch = preparedQuery((db) =>
  db.selectFrom("engine_switches").select(["reason"]).where("name", "=", STOP_ALL_SWITCH),
);
const changeFacts = preparedQuery((db, id: string) =>
  db
    .selectFrom("change_requests")
    .select(["emergency", "justification", "override_approver"])
    .where("id", "=", id),
);

/** The rollout's stored state; null when it does not exist. */
export async function loadRollout(
  db: Kysely<Database>,
  rolloutId: string,
  now: Date,
  heartbeatIntervalMs: number,
): Promise<LoadedRollout | null> {
  const [row] = (await rolloutRow(db, rolloutId)).rows;
  if (!row) return null;
  if (!isRolloutState(row.state)) throw new Error(`rollout ${rolloutId} has an unknown state "${row.state}"`);
  if (TERMINAL_ROLLOUT_STATES.includes(row.state)) forgetRolloutRows(db, rolloutId);
  const plan = await frozenPlan(db, rolloutId);
  if (plan.version !== 2)
    throw new Error(`rollout ${rolloutId} holds a plan of version ${String(plan.version)}`);

  const [phaseRows, rows, stop, change] = await Promise.all([
    phasesOf(db, rolloutId).then((r) => r.rows),
    readRows(db, rolloutId, Number(row.revision), now, heartbeatIntervalMs),
    stopSwitch(db).then((r) => r.rows[0]),
    changeFacts(db, row.change_id).then((r) => r.rows[0]),
  ]);
  const { assetRows, opRows } = rows;

  const phases: ViewPhase[] = phaseRows.map((p) => ({
    idx: Number(p.idx),
    name: p.name,
    kind: p.kind === "canary" || p.kind === "final" ? p.kind : "wave",
    ring: p.ring,
    state: phaseState(p.state),
    startedAt: p.started_at,
    observeUntil: p.observe_until,
    finishedAt: p.finished_at,
    promotedBy: p.promoted_by,
    gateResults: json<GateResult[]>(p.gate_results) ?? [],
    pausedMs: Number(p.paused_ms ?? 0),
  }));
  const views = viewsOf(db);
  const assets: ViewAsset[] = assetRows.map((a) => {
    const live = rows.silent.get(a.asset_id);
    const present = live === undefined || live.present;
    const heartbeating = live === undefined;
    const known = views.assets.get(a);
    if (known && known.present === present && known.heartbeating === heartbeating) return known;
    const asset: ViewAsset = Object.freeze({
      id: a.asset_id,
      name: a.asset_name,
      phaseIdx: Number(a.phase_idx),
      seq: Number(a.seq),
      group: a.group_name,
      region: a.region,
      state: assetState(a.state),
      reason: a.state_reason,
      fromVersion: a.from_version,
      toVersion: a.to_version,
      attempt: Number(a.attempt),
      snapshot: a.snapshot === null ? null : PARSED_SNAPSHOTS.get(`${rolloutId}/${a.asset_id}`, a.snapshot),
      startedAt: a.started_at,
      unavailableSince: a.unavailable_since,
      finishedAt: a.finished_at,
      present,
      heartbeating,
    });
    views.assets.set(a, asset);
    return asset;
  });
  const names = new Map(assets.map((a) => [a.id, a.name]));
  const outcomes = await outcomesOf(db, opRows);
  const operations: ViewOperation[] = opRows.map((o) => {
    const outcome = outcomes.get(o.id) ?? { status: "pending" };
    // A finished row read before gives the same view again; an open one is observed (and its
    // outcome set) afresh on every pass, so it is a new object each time.
    const finished = FINISHED_STATES.includes(o.state);
    const known = finished ? views.operations.get(o) : undefined;
    if (known && known.outcome === outcome) return known;
    const op: ViewOperation = {
      id: o.id,
      key: o.idempotency_key,
      assetId: o.asset_id,
      action: opAction(o.action),
      attempt: Number(o.attempt),
      state: opState(o.state),
      step: o.step,
      createdAt: o.created_at,
      outcome,
    };
    if (!finished) return op;
    Object.freeze(op);
    views.operations.set(o, op);
    return op;
  });

  const openIds = opRows.filter((o) => o.state === "queued" || o.state === "leased").map((o) => o.id);
  const payloads = await payloadsOf(db, openIds);
  const executors = new Map(opRows.map((o) => [o.id, o.executor]));
  const open = operations
    .filter((o) => payloads.has(o.id))
    .map((op) => ({
      op,
      executor: executors.get(op.id) ?? "agent",
      spec: {
        id: op.id,
        key: op.key,
        rolloutId,
        changeId: row.change_id,
        assetId: op.assetId,
        assetName: names.get(op.assetId) ?? op.assetId,
        action: op.action,
        attempt: op.attempt,
        payload: payloads.get(op.id) as OperationPayload,
      } satisfies OperationSpec,
    }));

  const scope = row.rollback_scope;
  return {
    view: {
      rollout: {
        id: row.id,
        changeId: row.change_id,
        state: row.state,
        stateReason: row.state_reason,
        pausedBy: row.paused_by,
        pausedSince: row.paused_since,
        currentPhase: Number(row.current_phase),
        gateFailedAt: row.gate_failed_at,
        failedGate: json<GateResult | FailedGateAbort>(row.failed_gate),
        rollbackScope: scope === "phase" || scope === "change" ? scope : null,
        revision: Number(row.revision),
        startedAt: row.started_at,
      },
      plan,
      phases,
      assets,
      operations,
      stopAll: stop ? (stop.reason ?? "emergency stop") : null,
      operationTimeoutMs: plan.progressDeadlineMs,
      revertTimeoutMs: plan.revertTimeoutMs ?? DEFAULT_REVERT_TIMEOUT_MS,
    },
    open,
    change: {
      emergency: Number(change?.emergency ?? 0) === 1,
      justification: change?.justification ?? null,
      overrideApprover: change?.override_approver ?? null,
    },
  };
}
