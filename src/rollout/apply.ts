/**
 * Persists what `decide` asked for in one write: every transition with its audit event, the change
 * mirroring its rollout, new operations (their intent, inserted before any executor hears of them),
 * notifications through the outbox and the incident. The write applies only to the state the decision
 * was made on: the lease must still be ours, the rollout's revision unchanged (no operator control in
 * between) and every asset where the decision saw it; otherwise nothing is written and the next pass
 * decides again. What must follow the commit (dispatch, withdrawal) is returned, never done here.
 */
import type { Kysely, Updateable } from "kysely";
import type { AuditInput } from "../audit/event.js";
import { appendAudits } from "../audit/log.js";
import { actionFor, isChangeState } from "../changes/lifecycle.js";
import { lockChange, writeTransition } from "../changes/records.js";
import { actorLabel, SYSTEM_ACTOR } from "../domain/roles.js";
import { enqueueNotifications } from "../notify/outbox.js";
import type { Policy } from "../policy/schema.js";
import type { ServiceContext } from "../service/context.js";
import { forUpdate } from "../store/locks.js";
import type { Database, RolloutAssetsTable, RolloutsTable } from "../store/schema.js";
import { preparedQuery, type QueryArg } from "../store/statement-cache.js";
import type { Action, AssetFields, RolloutFields } from "./actions.js";
import { openIncident } from "./incidents.js";
import type { LoadedRollout } from "./load-view.js";
import type { AssetState, RolloutState } from "./model.js";
import type { OperationSpec } from "./operation.js";
import { buildPayloads } from "./payload.js";
import { noteEngineRevision } from "./rollout-rows.js";
import type { ViewAsset } from "./view.js";

export interface AfterCommit {
  dispatch: Array<{ spec: OperationSpec; executor: string }>;
  withdraw: Array<{ spec: OperationSpec; executor: string }>;
}

export type PersistOutcome = ({ applied: true } & AfterCommit) | { applied: false; why: string };

export interface PersistInput {
  loaded: LoadedRollout;
  actions: readonly Action[];
  replicaId: string;
  now: Date;
  policy: Policy;
  /** The executor kind new operations go to. */
  executor: string;
  /** The lease is renewed with the write for this long. */
  leaseTtlMs: number;
}

const SYSTEM = actorLabel(SYSTEM_ACTOR);
const STEPS: readonly AssetState[] = ["snapshotting", "applying", "verifying"];

const ROLLOUT_EVENT: Partial<Record<RolloutState, string>> = {
  paused: "rollout.paused",
  "rolling-back": "rollout.rolling-back",
  completed: "rollout.completed",
  "rolled-back": "rollout.rolled-back",
  failed: "rollout.failed",
  aborted: "rollout.aborted",
};

const PHASE_EVENT: Record<string, string> = {
  running: "rollout.phase.started",
  observing: "rollout.phase.observing",
  passed: "rollout.phase.passed",
  failed: "rollout.phase.failed",
  skipped: "rollout.phase.skipped",
  pending: "rollout.phase.pending",
};

class Stale extends Error {}

function assetColumns(set: AssetFields): Updateable<RolloutAssetsTable> {
  const out: Updateable<RolloutAssetsTable> = {};
  if (set.attempt !== undefined) out.attempt = set.attempt;
  if (set.snapshot !== undefined) out.snapshot = set.snapshot === null ? null : JSON.stringify(set.snapshot);
  if (set.startedAt !== undefined) out.started_at = set.startedAt;
  if (set.unavailableSince !== undefined) out.unavailable_since = set.unavailableSince;
  if (set.finishedAt !== undefined) out.finished_at = set.finishedAt;
  return out;
}

function rolloutColumns(set: RolloutFields): Updateable<RolloutsTable> {
  const out: Updateable<RolloutsTable> = {};
  if (set.currentPhase !== undefined) out.current_phase = set.currentPhase;
  if (set.pausedBy !== undefined) out.paused_by = set.pausedBy;
  if (set.pausedSince !== undefined) out.paused_since = set.pausedSince;
  if (set.gateFailedAt !== undefined) out.gate_failed_at = set.gateFailedAt;
  if (set.failedGate !== undefined)
    out.failed_gate = set.failedGate === null ? null : JSON.stringify(set.failedGate);
  if (set.rollbackScope !== undefined) out.rollback_scope = set.rollbackScope;
  if (set.timeToRollbackMs !== undefined) out.time_to_rollback_ms = set.timeToRollbackMs;
  if (set.finishedAt !== undefined) out.finished_at = set.finishedAt;
  return out;
}

type AssetMove = Extract<Action, { type: "asset.transition" }>;

/**
 * The asset transitions to write, checked against the stored states. A host's progress report may
 * have moved an asset a step further since the state was read: the steps it took already are left
 * out, and the audit event names the state it really left. Anything else is a stale decision.
 */
async function checkedMoves(trx: Kysely<Database>, rolloutId: string, actions: readonly Action[]) {
  const moves = actions.filter((a): a is AssetMove => a.type === "asset.transition");
  const ids = [...new Set(moves.map((m) => m.assetId))];
  const stored = new Map<string, { state: string; attempt: number }>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await trx
      .selectFrom("rollout_assets")
      .select(["asset_id", "state", "attempt"])
      .where("rollout_id", "=", rolloutId)
      .where("asset_id", "in", ids.slice(i, i + 500))
      .$call(forUpdate(trx))
      .execute();
    for (const r of rows) stored.set(r.asset_id, { state: r.state, attempt: Number(r.attempt) });
  }
  const current = new Map<string, string>();
  const kept = new Set<AssetMove>();
  const from = new Map<AssetMove, string>();
  for (const m of moves) {
    const actual = current.get(m.assetId) ?? stored.get(m.assetId)?.state;
    if (actual === undefined) throw new Stale(`asset ${m.assetId} is not part of the rollout`);
    if (actual === m.from) {
      kept.add(m);
      from.set(m, actual);
      current.set(m.assetId, m.to);
      continue;
    }
    const ahead = STEPS.indexOf(actual as AssetState);
    const expected = STEPS.indexOf(m.from);
    // Only a move forward may skip steps: sending an asset back to pending needs it exactly where it was.
    if (ahead > expected && expected >= 0 && m.to !== "pending") {
      // Already there (or further): skip this step; a later one continues from where it really is.
      if (STEPS.includes(m.to) && STEPS.indexOf(m.to) <= ahead) continue;
      kept.add(m);
      from.set(m, actual);
      current.set(m.assetId, m.to);
      continue;
    }
    throw new Stale(`asset ${m.assetId} is ${actual}, not ${m.from}`);
  }
  return { kept, from };
}

// Every operation of a rollout is inserted and finished through these: compiled once (see preparedQuery).
const insertOperation = preparedQuery(
  (
    db,
    id: string,
    key: string,
    rolloutId: string,
    assetId: string,
    executor: string,
    action: string,
    attempt: number,
    state: string,
    payload: string,
    error: string | null,
    createdAt: string,
    finishedAt: string | null,
    updatedAt: string,
  ) =>
    db
      .insertInto("operations")
      .values({
        id,
        idempotency_key: key,
        rollout_id: rolloutId,
        asset_id: assetId,
        executor,
        action,
        attempt,
        state,
        step: null,
        payload,
        result: null,
        error,
        lease_expires_at: null,
        created_at: createdAt,
        leased_at: null,
        finished_at: finishedAt,
        updated_at: updatedAt,
      })
      .onConflict((oc) => oc.column("idempotency_key").doNothing()),
);
const finishOpen = preparedQuery(
  (
    db,
    state: string,
    result: string | null,
    error: string | null,
    finishedAt: string,
    updatedAt: string,
    id: string,
  ) =>
    db
      .updateTable("operations")
      .set({ state, result, error, finished_at: finishedAt, updated_at: updatedAt })
      .where("id", "=", id)
      .where("state", "in", ["queued", "leased"]),
);

type AssetSet = Updateable<RolloutAssetsTable>;
type AssetUpdate = (db: Kysely<Database>, ...args: QueryArg[]) => Promise<unknown>;
/** The asset updates by the columns they set (a pass sets a handful of shapes): each compiled once. */
const ASSET_UPDATES = new Map<string, AssetUpdate>();

function updateAsset(trx: Kysely<Database>, rolloutId: string, assetId: string, set: AssetSet) {
  const columns = Object.keys(set).sort() as Array<keyof AssetSet>;
  const shape = columns.join(",");
  let update = ASSET_UPDATES.get(shape);
  if (!update) {
    update = preparedQuery((db, ...args: QueryArg[]) =>
      db
        .updateTable("rollout_assets")
        .set(Object.fromEntries(columns.map((c, i) => [c, args[i]])) as AssetSet)
        .where("rollout_id", "=", args[columns.length] as string)
        .where("asset_id", "=", args[columns.length + 1] as string),
    );
    ASSET_UPDATES.set(shape, update);
  }
  return update(trx, ...columns.map((c) => (set[c] ?? null) as QueryArg), rolloutId, assetId);
}

/** Writes the actions in one write; `applied: false` (nothing written) when the state moved under the decision. */
export async function persistActions(ctx: ServiceContext, input: PersistInput): Promise<PersistOutcome> {
  try {
    const outcome = await ctx.store.write((trx) => persist(trx, input));
    // The rows it wrote carry `updated_at`: the next pass reads them as its own, not the whole rollout.
    noteEngineRevision(ctx.store.db, input.loaded.view.rollout.id, input.loaded.view.rollout.revision + 1);
    return outcome;
  } catch (err) {
    // Thrown inside the write, so everything it had written is rolled back with it.
    if (err instanceof Stale) return { applied: false, why: err.message };
    throw err;
  }
}

async function persist(trx: Kysely<Database>, input: PersistInput): Promise<{ applied: true } & AfterCommit> {
  const { loaded, actions, replicaId, now } = input;
  const { view } = loaded;
  const rolloutId = view.rollout.id;
  const at = now.toISOString();

  const row = await trx
    .selectFrom("rollouts")
    .select(["revision", "lease_owner", "lease_expires_at", "state"])
    .where("id", "=", rolloutId)
    .$call(forUpdate(trx))
    .executeTakeFirst();
  if (!row) throw new Stale("the rollout is gone");
  if (row.lease_owner !== replicaId || row.lease_expires_at === null || row.lease_expires_at <= at) {
    throw new Stale("the lease is no longer ours");
  }
  if (Number(row.revision) !== view.rollout.revision)
    throw new Stale("the rollout changed since it was read");
  const { kept, from } = await checkedMoves(trx, rolloutId, actions);

  const assetById = new Map(view.assets.map((a) => [a.id, { ...a }]));
  const after: AfterCommit = { dispatch: [], withdraw: [] };
  const openSpecs = new Map(loaded.open.map((o) => [o.op.id, o]));

  // New operations: their payloads describe the asset as it is when dispatched.
  const dispatches = actions.filter(
    (a): a is Extract<Action, { type: "operation.dispatch" }> => a.type === "operation.dispatch",
  );
  const snapshotOf = (assetId: string): ViewAsset => assetById.get(assetId) as ViewAsset;
  // A revert decided in the same pass as its asset's failure returns to the snapshot that failure carried.
  for (const a of actions) {
    if (a.type !== "asset.transition" || a.set.snapshot === undefined || !kept.has(a)) continue;
    const asset = assetById.get(a.assetId);
    if (asset) asset.snapshot = a.set.snapshot;
  }
  const payloads = await buildPayloads(
    trx,
    view.plan,
    dispatches.map((d) => ({ asset: { ...snapshotOf(d.assetId), attempt: d.attempt }, action: d.action })),
  );

  // An asset moved several steps in one pass (applying, verifying, done) is written once, with where it
  // ended; its audit events still say each step, in order. Written before anything reads the assets.
  const moved = new Map<string, Updateable<RolloutAssetsTable>>();
  const writeMoved = async () => {
    for (const [assetId, set] of moved) await updateAsset(trx, rolloutId, assetId, set);
    moved.clear();
  };

  // The pass's events go in one append, in order; flushed before anything that appends its own.
  const audits: AuditInput[] = [];
  const flushAudits = async () => {
    await appendAudits(trx, audits.splice(0), now);
  };

  let dispatchIdx = 0;
  for (const action of actions) {
    switch (action.type) {
      case "operation.finish": {
        const result = action.result === null ? null : JSON.stringify(action.result);
        await finishOpen(trx, action.state, result, action.error, at, at, action.opId);
        audits.push({
          actor: SYSTEM,
          action: `rollout.operation.${action.state}`,
          targetType: "rollout",
          targetId: rolloutId,
          reason: action.error,
          data: { operation: action.opId, asset: assetById.get(action.assetId)?.name ?? action.assetId },
        });
        const open = openSpecs.get(action.opId);
        if (action.withdraw && open) after.withdraw.push({ spec: open.spec, executor: open.executor });
        break;
      }
      case "operation.dispatch": {
        const payload = payloads[dispatchIdx++];
        if (payload === undefined) throw new Error("a dispatch without its payload");
        // No payload for this asset: the operation is recorded as failed and never dispatched; the
        // next pass sees the failure as it sees any other (level-triggered).
        const unbuildable = "error" in payload ? payload.error : null;
        const asset = snapshotOf(action.assetId);
        const inserted = await insertOperation(
          trx,
          action.opId,
          action.key,
          rolloutId,
          action.assetId,
          input.executor,
          action.action,
          action.attempt,
          unbuildable === null ? "queued" : "failed",
          JSON.stringify(unbuildable === null ? payload : {}),
          unbuildable,
          at,
          unbuildable === null ? null : at,
          at,
        );
        // The key exists: this operation was made already (invariant 3). Never a second one.
        if (Number(inserted.numAffectedRows ?? 0n) === 0) throw new Stale(`operation ${action.key} exists`);
        audits.push({
          actor: SYSTEM,
          action: "rollout.operation.dispatched",
          targetType: "rollout",
          targetId: rolloutId,
          reason: null,
          data: {
            operation: action.opId,
            key: action.key,
            asset: asset.name,
            action: action.action,
            attempt: action.attempt,
            executor: input.executor,
          },
        });
        if ("error" in payload) break;
        after.dispatch.push({
          executor: input.executor,
          spec: {
            id: action.opId,
            key: action.key,
            rolloutId,
            changeId: view.rollout.changeId,
            assetId: action.assetId,
            assetName: asset.name,
            action: action.action,
            attempt: action.attempt,
            payload,
          },
        });
        break;
      }
      case "operation.withdraw": {
        const open = openSpecs.get(action.opId);
        if (open) after.withdraw.push({ spec: open.spec, executor: open.executor });
        break;
      }
      case "asset.transition": {
        if (!kept.has(action)) break;
        const asset = assetById.get(action.assetId);
        if (!asset) break;
        moved.set(action.assetId, {
          ...moved.get(action.assetId),
          ...assetColumns(action.set),
          state: action.to,
          state_reason: action.reason,
          updated_at: at,
        });
        if (action.set.snapshot !== undefined) asset.snapshot = action.set.snapshot;
        audits.push({
          actor: SYSTEM,
          action: `rollout.asset.${action.to}`,
          targetType: "rollout",
          targetId: rolloutId,
          reason: action.reason,
          data: {
            asset: asset.name,
            assetId: asset.id,
            group: asset.group,
            region: asset.region,
            from: from.get(action) ?? action.from,
            to: action.to,
            fromVersion: asset.fromVersion,
            toVersion: asset.toVersion,
            attempt: action.set.attempt ?? asset.attempt,
            operation: action.opId,
          },
        });
        break;
      }
      case "phase.transition": {
        const set = action.set;
        await trx
          .updateTable("rollout_phases")
          .set({
            state: action.to,
            ...(set.startedAt === undefined ? {} : { started_at: set.startedAt }),
            ...(set.observeUntil === undefined ? {} : { observe_until: set.observeUntil }),
            ...(set.finishedAt === undefined ? {} : { finished_at: set.finishedAt }),
          })
          .where("rollout_id", "=", rolloutId)
          .where("idx", "=", action.idx)
          .where("state", "=", action.from)
          .execute();
        const phase = view.phases.find((p) => p.idx === action.idx);
        audits.push({
          actor: SYSTEM,
          action: PHASE_EVENT[action.to] ?? `rollout.phase.${action.to}`,
          targetType: "rollout",
          targetId: rolloutId,
          reason: action.reason,
          data: {
            phase: phase?.name ?? String(action.idx),
            idx: action.idx,
            from: action.from,
            to: action.to,
            ...(set.observeUntil ? { observeUntil: set.observeUntil } : {}),
            gates: phase?.gateResults ?? [],
          },
        });
        break;
      }
      case "phase.gates":
        await trx
          .updateTable("rollout_phases")
          .set({ gate_results: JSON.stringify(action.results) })
          .where("rollout_id", "=", rolloutId)
          .where("idx", "=", action.idx)
          .execute();
        break;
      case "phase.paused": {
        const p = await trx
          .selectFrom("rollout_phases")
          .select("paused_ms")
          .where("rollout_id", "=", rolloutId)
          .where("idx", "=", action.idx)
          .executeTakeFirst();
        await trx
          .updateTable("rollout_phases")
          .set({ paused_ms: Number(p?.paused_ms ?? 0) + action.addMs })
          .where("rollout_id", "=", rolloutId)
          .where("idx", "=", action.idx)
          .execute();
        break;
      }
      case "rollout.transition": {
        await trx
          .updateTable("rollouts")
          .set({ ...rolloutColumns(action.set), state: action.to, state_reason: action.reason })
          .where("id", "=", rolloutId)
          .execute();
        const event =
          action.to === "running"
            ? action.from === "pending"
              ? "rollout.started"
              : "rollout.resumed"
            : ROLLOUT_EVENT[action.to];
        audits.push({
          actor: SYSTEM,
          action: event ?? `rollout.${action.to}`,
          targetType: "rollout",
          targetId: rolloutId,
          reason: action.reason,
          data: {
            from: action.from,
            to: action.to,
            change: view.rollout.changeId,
            ...rolloutData(action.set),
          },
        });
        await flushAudits();
        await mirrorChange(trx, view.rollout.changeId, rolloutId, action.to, action.reason, now);
        break;
      }
      case "rollout.update":
        await trx
          .updateTable("rollouts")
          .set(rolloutColumns(action.set))
          .where("id", "=", rolloutId)
          .execute();
        break;
      case "notify":
        await flushAudits();
        await notify(trx, input, action);
        break;
      case "incident.open": {
        await writeMoved();
        const change = await trx
          .selectFrom("change_requests")
          .select(["title"])
          .where("id", "=", view.rollout.changeId)
          .executeTakeFirst();
        const words = action.outcome === "rolled-back" ? "rolled back" : "failed";
        await flushAudits();
        await openIncident(trx, {
          rolloutId,
          changeId: view.rollout.changeId,
          title: `${change?.title ?? view.rollout.changeId}: ${words}`,
          outcome: action.outcome,
          whatFailed: action.whatFailed,
          now,
        });
        break;
      }
      default:
        break;
    }
  }
  await writeMoved();
  await flushAudits();
  // Every engine write is a new revision; the lease is renewed with it.
  await trx
    .updateTable("rollouts")
    .set({
      revision: view.rollout.revision + 1,
      updated_at: at,
      lease_expires_at: new Date(now.getTime() + input.leaseTtlMs).toISOString(),
    })
    .where("id", "=", rolloutId)
    .execute();
  return { applied: true, ...after };
}

function rolloutData(set: RolloutFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (set.failedGate !== undefined) out.failedGate = set.failedGate;
  if (set.rollbackScope !== undefined) out.rollbackScope = set.rollbackScope;
  if (set.timeToRollbackMs !== undefined) out.timeToRollbackMs = set.timeToRollbackMs;
  return out;
}

/** The change follows its rollout's state (and ends with its outcome). */
async function mirrorChange(
  trx: Kysely<Database>,
  changeId: string,
  rolloutId: string,
  to: RolloutState,
  reason: string,
  now: Date,
): Promise<void> {
  if (to === "pending") return;
  const change = await lockChange(trx, changeId);
  if (!isChangeState(change.state) || change.state === to) return;
  const action = actionFor(change.state, to);
  // A change moved on by other means (cancelled before its rollout existed) is left as it is.
  if (action === undefined) return;
  await writeTransition(trx, change, {
    actor: SYSTEM_ACTOR,
    action,
    reason,
    now,
    data: { rollout: rolloutId },
  });
}

async function notify(
  trx: Kysely<Database>,
  input: PersistInput,
  action: Extract<Action, { type: "notify" }>,
): Promise<void> {
  const { view } = input.loaded;
  const change = await trx
    .selectFrom("change_requests")
    .select(["id", "title", "package_name", "package_version", "selector"])
    .where("id", "=", view.rollout.changeId)
    .executeTakeFirst();
  if (!change) return;
  await enqueueNotifications(
    trx,
    input.policy,
    action.event,
    {
      type: "change",
      id: change.id,
      title: change.title,
      data: {
        rollout: view.rollout.id,
        package: change.package_name,
        version: change.package_version,
        selector: change.selector,
        ...action.data,
      },
    },
    input.now,
    `${view.rollout.id}:${action.occurrence}`,
  );
}
