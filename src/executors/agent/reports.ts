import type { Kysely, Selectable } from "kysely";
import type { AuditInput } from "../../audit/event.js";
import { appendAudit, appendAudits } from "../../audit/log.js";
import { reasonError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import { wakeEngine } from "../../rollout/engine-wakeups.js";
import {
  type AssetState,
  canAssetTransition,
  OPEN_OPERATION_STATES,
  type OperationAction,
  type OperationState,
  type OperationStep,
} from "../../rollout/model.js";
import {
  type OperationResult,
  operationPayloadSchema,
  operationResultSchema,
} from "../../rollout/operation.js";
import type { ServiceContext } from "../../service/context.js";
import { forUpdate } from "../../store/locks.js";
import type { Database, OperationsTable } from "../../store/schema.js";
import { preparedQuery } from "../../store/statement-cache.js";
import { leaseTtlMs } from "./lease-time.js";
import { notYours, operationNotFound, ownAssetOf } from "./own-asset.js";

/** The steps a host may report for each action, in the order it takes them. */
const STEPS_OF: Record<OperationAction, readonly OperationStep[]> = {
  patch: ["snapshotting", "applying", "verifying"],
  revert: ["reverting"],
  verify: [],
};

/** The asset states a patch's steps move through (the engine set `snapshotting` when it dispatched). */
const PATCH_PATH: readonly AssetState[] = ["snapshotting", "applying", "verifying"];

export interface OperationAnswer {
  operation: string;
  state: OperationState;
  step: string | null;
  /** True when this report changed the operation; false for a repeat or a report on a finished one. */
  accepted: boolean;
  result: OperationResult | null;
  error: string | null;
  leaseExpiresAt: string | null;
}

type OpRow = Selectable<OperationsTable>;

/** `known`: the result just recorded, as given (parsing its stored text again would give the same). */
function answerOf(row: OpRow, accepted: boolean, known?: OperationResult): OperationAnswer {
  const parsed =
    known !== undefined || row.result === null
      ? null
      : operationResultSchema.safeParse(JSON.parse(row.result));
  return {
    operation: row.id,
    state: row.state as OperationState,
    step: row.step,
    accepted,
    result: known ?? (parsed?.success ? parsed.data : null),
    error: row.error,
    leaseExpiresAt: row.lease_expires_at,
  };
}

// Every host's result runs these: compiled once (see preparedQuery).
const lockedOperation = preparedQuery((db, id: string) =>
  db.selectFrom("operations").selectAll().where("id", "=", id).$call(forUpdate(db)),
);
const targetOf = preparedQuery((db, id: string) =>
  db.selectFrom("operations").select(["asset_id", "state"]).where("id", "=", id),
);
const finishLeased = preparedQuery(
  (db, state: string, result: string, error: string, at: string, id: string) =>
    db
      .updateTable("operations")
      .set({ state, result, error, finished_at: at, updated_at: at })
      .where("id", "=", id)
      .where("state", "=", "leased"),
);
const finishLeasedOk = preparedQuery((db, state: string, result: string, at: string, id: string) =>
  db
    .updateTable("operations")
    .set({ state, result, error: null, finished_at: at, updated_at: at })
    .where("id", "=", id)
    .where("state", "=", "leased"),
);

const checksOf = operationPayloadSchema.pick({ healthChecks: true });
const renewProgress = preparedQuery((db, step: string, expires: string, at: string, id: string) =>
  db.updateTable("operations").set({ step, lease_expires_at: expires, updated_at: at }).where("id", "=", id),
);
const lockedAsset = preparedQuery((db, rolloutId: string, assetId: string) =>
  db
    .selectFrom("rollout_assets")
    .selectAll()
    .where("rollout_id", "=", rolloutId)
    .where("asset_id", "=", assetId)
    .$call(forUpdate(db)),
);
const moveState = preparedQuery(
  (db, to: string, reason: string, at: string, rolloutId: string, assetId: string, from: string) =>
    db
      .updateTable("rollout_assets")
      .set({ state: to, state_reason: reason, started_at: null, updated_at: at })
      .where("rollout_id", "=", rolloutId)
      .where("asset_id", "=", assetId)
      .where("state", "=", from),
);
const moveStateStarted = preparedQuery(
  (
    db,
    to: string,
    reason: string,
    startedAt: string,
    at: string,
    rolloutId: string,
    assetId: string,
    from: string,
  ) =>
    db
      .updateTable("rollout_assets")
      .set({ state: to, state_reason: reason, started_at: startedAt, updated_at: at })
      .where("rollout_id", "=", rolloutId)
      .where("asset_id", "=", assetId)
      .where("state", "=", from),
);

/** The operation, locked for this write, if it is the caller's asset's. */
async function ownOperation(trx: Kysely<Database>, actor: Actor, id: string): Promise<OpRow> {
  const assetId = ownAssetOf(actor);
  const [row] = (await lockedOperation(trx, id)).rows;
  if (!row) throw operationNotFound(id);
  if (row.asset_id !== assetId) throw notYours(id);
  return row;
}

/**
 * Refuses a result report before anything of it is recorded, as recordResult would: the operation must
 * be the caller's asset's and leased already (or finished: a repeat). Lets the result route record an
 * inventory carried with the result first, without recording it for a report that is then refused.
 */
export async function checkResultTarget(ctx: ServiceContext, actor: Actor, id: string): Promise<void> {
  const [row] = (await targetOf(ctx.store.db, id)).rows;
  if (!row) throw operationNotFound(id);
  if (row.asset_id !== ownAssetOf(actor)) throw notYours(id);
  if (isOpen(row.state) && row.state !== "leased") throw notLeased(id);
}

function notLeased(id: string) {
  return reasonError(
    "agent.operation-not-leased",
    `operation ${id.slice(0, 100)} is not leased to this agent yet: take it from /api/v1/agent/operations/next first`,
    { where: "/params/id" },
  );
}

function isOpen(state: string): boolean {
  return (OPEN_OPERATION_STATES as readonly string[]).includes(state);
}

/**
 * A host reports the step it is at. The lease is renewed; a patch's asset moves forward to the state
 * of that name (snapshotting → applying → verifying), each move with its audit event. Repeats and
 * reports on a finished operation change nothing.
 */
export async function recordProgress(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  step: OperationStep,
): Promise<OperationAnswer> {
  return ctx.store.write(async (trx) => {
    const row = await ownOperation(trx, actor, id);
    if (!isOpen(row.state)) return answerOf(row, false);
    if (row.state !== "leased") throw notLeased(id);
    const action = row.action as OperationAction;
    if (!STEPS_OF[action].includes(step)) {
      throw reasonError(
        "agent.invalid-step",
        `a ${action} operation reports ${STEPS_OF[action].join(", ") || "no steps"}, not ${step}`,
        { where: "/body/step" },
      );
    }
    const now = ctx.now();
    const at = now.toISOString();
    // The lease's time needs the health checks only: the rest of the payload is not parsed again.
    const expires = new Date(
      now.getTime() + leaseTtlMs(checksOf.parse(JSON.parse(row.payload))),
    ).toISOString();
    await renewProgress(trx, step, expires, at, id);
    const changed = row.step !== step;
    if (changed) {
      const moves = action === "patch" ? await moveAsset(trx, actor, row, step, now) : [];
      await appendAudits(
        trx,
        moves.length > 0
          ? moves
          : [
              {
                actor: actorLabel(actor),
                action: "rollout.operation.progress",
                targetType: "rollout",
                targetId: row.rollout_id,
                data: { operation: id, assetId: row.asset_id, action, from: row.step, step },
              },
            ],
        now,
      );
    }
    return answerOf({ ...row, step, lease_expires_at: expires, updated_at: at }, changed);
  });
}

/**
 * Moves the patch's asset forward to `step`, one state at a time; returns the moves' audit events,
 * which the caller appends in this write.
 */
async function moveAsset(
  trx: Kysely<Database>,
  actor: Actor,
  op: OpRow,
  step: OperationStep,
  now: Date,
): Promise<AuditInput[]> {
  const [asset] = (await lockedAsset(trx, op.rollout_id, op.asset_id)).rows;
  // Another attempt of the asset began (retry), or it moved on (failed, skipped): this report is history.
  if (!asset || Number(asset.attempt) !== Number(op.attempt)) return [];
  const target = PATCH_PATH.indexOf(step as AssetState);
  let at = PATCH_PATH.indexOf(asset.state as AssetState);
  if (target < 0 || at < 0 || at >= target) return [];
  const when = now.toISOString();
  const reason = `host reported ${step}`;
  const moves: AuditInput[] = [];
  let startedAt = asset.started_at;
  while (at < target) {
    const from = PATCH_PATH[at] as AssetState;
    const to = PATCH_PATH[at + 1] as AssetState;
    if (!canAssetTransition(from, to)) break;
    // startedAt is when the install began: the host reports applying just before it runs dpkg.
    if (to === "applying" && startedAt === null) startedAt = when;
    if (startedAt === null) await moveState(trx, to, reason, when, op.rollout_id, op.asset_id, from);
    else await moveStateStarted(trx, to, reason, startedAt, when, op.rollout_id, op.asset_id, from);
    moves.push({
      actor: actorLabel(actor),
      action: `rollout.asset.${to}`,
      targetType: "rollout",
      targetId: op.rollout_id,
      reason,
      data: {
        asset: asset.asset_name,
        assetId: asset.asset_id,
        group: asset.group_name,
        region: asset.region,
        from,
        to,
        fromVersion: asset.from_version,
        toVersion: asset.to_version,
        operation: op.id,
      },
    });
    at += 1;
  }
  return moves;
}

/**
 * A host reports how an operation ended. Stored once: the first result finishes the operation
 * (succeeded when the host says ok, else failed); a result for a finished operation returns what
 * is stored and changes nothing, so a retried report never applies twice. The engine turns the
 * stored result into the asset's transition on its next pass (it also checks the version read back).
 */
export async function recordResult(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  result: OperationResult,
): Promise<OperationAnswer> {
  const answer = await ctx.store.write(async (trx) => {
    const row = await ownOperation(trx, actor, id);
    if (!isOpen(row.state)) return answerOf(row, false);
    if (row.state !== "leased") throw notLeased(id);
    const now = ctx.now();
    const at = now.toISOString();
    const state: OperationState = result.ok ? "succeeded" : "failed";
    const error = result.ok ? null : (result.error ?? "the host reported a failure");
    const stored = JSON.stringify(result);
    if (error === null) await finishLeasedOk(trx, state, stored, at, id);
    else await finishLeased(trx, state, stored, error, at, id);
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: `rollout.operation.${state}`,
        targetType: "rollout",
        targetId: row.rollout_id,
        reason: error,
        data: {
          operation: id,
          key: row.idempotency_key,
          assetId: row.asset_id,
          action: row.action,
          installedVersion: result.installedVersion,
          replayed: result.replayed,
          checks: result.checks.map((c) => ({ name: c.name, ok: c.ok })),
        },
      },
      now,
    );
    return answerOf({ ...row, state, result: stored, error, finished_at: at, updated_at: at }, true, result);
  });
  // The asset's transition waits on the engine: ask for its pass now rather than at the next tick.
  if (answer.accepted) wakeEngine(ctx.store);
  if (!answer.accepted && (answer.state === "lost" || answer.state === "cancelled")) {
    // The engine gave up on it before the host answered: the host's word is logged for the post-mortem.
    ctx.logger.warn(
      { operation: id, state: answer.state, ok: result.ok, installedVersion: result.installedVersion },
      "a host reported the result of an operation the engine no longer waits for",
    );
  }
  return answer;
}
