/**
 * Operator controls: pause, resume, abort, retry an asset, skip an asset, promote, and the engine-wide
 * emergency stop. Each writes an intent (state columns, `engine_switches`) with its audit events in one
 * write and bumps the rollout's revision, so a decision the engine made on the state before is not
 * applied; the engine acts on the intent on its next pass. Operator or admin only, checked here by
 * the actor whoever calls.
 */
import type { Kysely, Selectable, Updateable } from "kysely";
import { appendAudit } from "../audit/log.js";
import { CHANGE_ACTIONS, type ChangeAction, isChangeState, statesAllowing } from "../changes/lifecycle.js";
import { lockChange, writeTransition } from "../changes/records.js";
import { reasonError } from "../domain/errors.js";
import { type Actor, actorLabel, roleAllows } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { forUpdate } from "../store/locks.js";
import type { Database, RolloutAssetsTable, RolloutsTable } from "../store/schema.js";
import {
  type AssetState,
  isRolloutState,
  type RolloutState,
  STOP_ALL_SWITCH,
  TERMINAL_ROLLOUT_STATES,
} from "./model.js";
import { type RolloutView, type StopAllView, showRollout, stopAllOf } from "./queries.js";

export interface ControlInput {
  /** Why, for the audit log: required. */
  reason?: string | undefined;
}

export interface AssetControlInput extends ControlInput {
  /** The asset, by name or id. */
  asset?: string | undefined;
}

export type ControlName = "pause" | "resume" | "abort" | "retry" | "skip" | "promote";

type RolloutRow = Selectable<RolloutsTable>;
type AssetRow = Selectable<RolloutAssetsTable>;

/** The state_reason prefixes of the pauses the engine makes and lifts by itself. */
const ENGINE_PAUSES = { windowClosed: "window-closed:", stopAll: "stop-all:", halted: "halted:" } as const;

const MAX_REASON = 2000;

function requireOperator(actor: Actor, what: string): void {
  if (actor.kind === "agent" || actor.role === null || !roleAllows(actor.role, "operate")) {
    throw reasonError(
      "rollout.operator-required",
      `${what} needs an operator or an admin; ${actorLabel(actor)} is ${actor.role ?? "an agent"}`,
    );
  }
}

function requireText(value: string | undefined, reason: "rollout.reason-required", what: string): string {
  const text = value?.trim() ?? "";
  if (text === "") throw reasonError(reason, `${what} needs a reason (--reason)`, { where: "/reason" });
  if (text.length > MAX_REASON) {
    throw reasonError(reason, `the reason is longer than ${MAX_REASON} characters`, { where: "/reason" });
  }
  return text;
}

function stateOf(row: RolloutRow): RolloutState {
  if (!isRolloutState(row.state)) throw new Error(`rollout ${row.id} has an unknown state "${row.state}"`);
  return row.state;
}

function illegal(row: RolloutRow, control: ControlName, why: string): Error {
  return reasonError(
    "rollout.illegal-transition",
    `rollout ${row.id} is ${row.state}: cannot ${control} it (${why})`,
    {
      where: "/id",
      details: { state: row.state, stateReason: row.state_reason },
    },
  );
}

function requireStates(
  row: RolloutRow,
  control: ControlName,
  allowed: readonly RolloutState[],
): RolloutState {
  const state = stateOf(row);
  if (!allowed.includes(state)) {
    throw illegal(row, control, `only a rollout that is ${allowed.join(", ")} can be`);
  }
  return state;
}

/** The rollout row locked for the rest of the transaction (one writer at a time on SQLite). */
async function lockRollout(trx: Kysely<Database>, id: string): Promise<RolloutRow> {
  const row = await trx
    .selectFrom("rollouts")
    .selectAll()
    .where("id", "=", id)
    .$call(forUpdate(trx))
    .executeTakeFirst();
  if (!row) throw reasonError("rollout.not-found", `no rollout ${id}`, { where: "/id" });
  return row;
}

/** The asset of the rollout named (or with the id) `ref`. */
async function lockAsset(
  trx: Kysely<Database>,
  rolloutId: string,
  ref: string | undefined,
): Promise<AssetRow> {
  const name = ref?.trim() ?? "";
  if (name === "") throw reasonError("validation", "name the asset", { where: "/asset" });
  const row = await trx
    .selectFrom("rollout_assets")
    .selectAll()
    .where("rollout_id", "=", rolloutId)
    .where((eb) => eb.or([eb("asset_name", "=", name), eb("asset_id", "=", name)]))
    .$call(forUpdate(trx))
    .executeTakeFirst();
  if (!row) {
    throw reasonError("rollout.asset-not-found", `rollout ${rolloutId} has no asset ${name}`, {
      where: "/asset",
    });
  }
  return row;
}

interface Write {
  trx: Kysely<Database>;
  actor: Actor;
  row: RolloutRow;
  reason: string;
  now: Date;
}

/** The new intent with the revision bumped; refused when another write got in between. */
async function updateRollout(w: Write, set: Updateable<RolloutsTable>): Promise<void> {
  const result = await w.trx
    .updateTable("rollouts")
    .set({ ...set, revision: Number(w.row.revision) + 1, updated_at: w.now.toISOString() })
    .where("id", "=", w.row.id)
    .where("revision", "=", w.row.revision)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw reasonError("conflict", `rollout ${w.row.id} changed while the control was written; try again`);
  }
}

async function audit(w: Write, action: string, data: Record<string, unknown>): Promise<void> {
  await appendAudit(
    w.trx,
    {
      actor: actorLabel(w.actor),
      action,
      targetType: "rollout",
      targetId: w.row.id,
      reason: w.reason,
      data: { change: w.row.change_id, principal: w.actor.principal, ...data },
    },
    w.now,
  );
}

/** The change follows its rollout's state; a change that cannot (or need not) follow is left as it is. */
async function mirrorChange(w: Write, to: RolloutState): Promise<void> {
  const change = await lockChange(w.trx, w.row.change_id);
  if (!isChangeState(change.state) || !isChangeState(to) || change.state === to) return;
  const from = change.state;
  const action = (Object.keys(CHANGE_ACTIONS) as ChangeAction[]).find(
    (a) => CHANGE_ACTIONS[a] === to && statesAllowing(a).includes(from),
  );
  if (action === undefined) return;
  await writeTransition(w.trx, change, {
    actor: w.actor,
    action,
    reason: w.reason,
    now: w.now,
    data: { rollout: w.row.id },
  });
}

/** Moves the rollout to `to` with its control event, its transition event and the change mirroring it. */
async function moveRollout(
  w: Write,
  control: ControlName,
  to: RolloutState,
  stateReason: string,
  set: Updateable<RolloutsTable>,
  data: Record<string, unknown> = {},
): Promise<void> {
  const from = stateOf(w.row);
  await updateRollout(w, { ...set, state: to, state_reason: stateReason });
  await audit(w, `rollout.control.${control}`, { from, to, ...data });
  if (to !== from) {
    await audit(w, to === "running" ? "rollout.resumed" : `rollout.${to}`, {
      from,
      to,
      by: w.actor.principal,
    });
    await mirrorChange(w, to);
  }
}

async function control(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  name: ControlName,
  input: ControlInput,
  apply: (w: Write) => Promise<void>,
): Promise<RolloutView> {
  requireOperator(actor, `rollout ${name}`);
  const reason = requireText(input.reason, "rollout.reason-required", `rollout ${name}`);
  await ctx.store.write(async (trx) => {
    const row = await lockRollout(trx, rolloutId);
    await apply({ trx, actor, row, reason, now: ctx.now() });
  });
  return showRollout(ctx, rolloutId);
}

const LIVE: readonly RolloutState[] = ["pending", "running", "paused", "rolling-back"];

/**
 * Pauses a rollout (pending, running or rolling back): the engine dispatches nothing new; operations in
 * flight end and their results are recorded. A rollout the engine paused (window closed, emergency stop)
 * becomes the operator's pause, which only `rollout resume` lifts.
 */
export async function pauseRollout(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: ControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "pause", input, async (w) => {
    const state = requireStates(w.row, "pause", LIVE);
    if (state === "paused") {
      const why = w.row.state_reason ?? "";
      if (w.row.paused_by !== null) throw illegal(w.row, "pause", `${w.row.paused_by} paused it already`);
      if (why.startsWith(ENGINE_PAUSES.halted)) {
        throw illegal(w.row, "pause", "it is halted after a failed gate: resume or abort it");
      }
    }
    await moveRollout(
      w,
      "pause",
      "paused",
      w.reason,
      { paused_by: w.actor.principal },
      { by: w.actor.principal },
    );
  });
}

/**
 * paused → running: the engine re-evaluates everything on its next pass (a rollback that was paused goes
 * on). The engine's own pauses are lifted by the engine: a closed window by the next allowed one, the
 * emergency stop by `rollout resume-all`.
 */
export async function resumeRollout(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: ControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "resume", input, async (w) => {
    requireStates(w.row, "resume", ["paused"]);
    const why = w.row.state_reason ?? "";
    if (w.row.paused_by === null && why.startsWith(ENGINE_PAUSES.stopAll)) {
      throw illegal(w.row, "resume", "the emergency stop holds it: `rollout resume-all` lifts it");
    }
    if (w.row.paused_by === null && why.startsWith(ENGINE_PAUSES.windowClosed)) {
      throw illegal(
        w.row,
        "resume",
        "its maintenance window is closed: it resumes by itself in the next one",
      );
    }
    const stop = await stopAllOf(w.trx);
    if (stop !== null)
      throw illegal(w.row, "resume", "the emergency stop is set: `rollout resume-all` lifts it");
    await moveRollout(w, "resume", "running", `resumed: ${w.reason}`, { paused_by: null });
  });
}

/** Assets whose host the rollout may have changed, or whose operation is in flight. */
const UNTOUCHED: readonly AssetState[] = ["pending", "skipped", "reverted"];

/**
 * Aborts: every asset the rollout touched is rolled back (in reverse order, under the same limits) and
 * the rollout ends `aborted`; one that touched nothing ends `aborted` at once. A rollback already under
 * way is not aborted again: it keeps the gate that failed (and the incident it opens).
 */
export async function abortRollout(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: ControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "abort", input, async (w) => {
    requireStates(w.row, "abort", ["pending", "running", "paused"]);
    if (w.row.rollback_scope !== null) {
      throw illegal(w.row, "abort", "its rollback is under way: resume it to let the rollback finish");
    }
    const at = w.now.toISOString();
    const failedGate = { kind: "abort", reason: w.reason, by: w.actor.principal };
    const [assets, open] = await Promise.all([
      w.trx.selectFrom("rollout_assets").select("state").where("rollout_id", "=", w.row.id).execute(),
      w.trx
        .selectFrom("operations")
        .select("id")
        .where("rollout_id", "=", w.row.id)
        .where("state", "in", ["queued", "leased"])
        .execute(),
    ]);
    const touched =
      assets.some((a) => !(UNTOUCHED as readonly string[]).includes(a.state)) || open.length > 0;
    const common = {
      failed_gate: JSON.stringify(failedGate),
      gate_failed_at: at,
      rollback_scope: "change",
      paused_by: null,
    };
    if (touched) {
      await moveRollout(w, "abort", "rolling-back", `aborted by ${w.actor.principal}: ${w.reason}`, common);
      return;
    }
    await moveRollout(w, "abort", "aborted", `aborted by ${w.actor.principal}: ${w.reason}`, {
      ...common,
      finished_at: at,
    });
  });
}

/** Refuses asset controls while a rollback is under way or once the rollout ended. */
function requireForwardRollout(w: Write, control: ControlName): void {
  requireStates(w.row, control, ["pending", "running", "paused"]);
  if (w.row.rollback_scope !== null) throw illegal(w.row, control, "its rollback is under way");
}

async function assetEvent(
  w: Write,
  a: AssetRow,
  to: AssetState,
  data: Record<string, unknown> = {},
): Promise<void> {
  await audit(w, `rollout.asset.${to}`, {
    asset: a.asset_name,
    assetId: a.asset_id,
    from: a.state,
    to,
    fromVersion: a.from_version,
    toVersion: a.to_version,
    operation: null,
    ...data,
  });
}

/**
 * A failed or reverted asset → pending with a new attempt (so a new idempotency key): the engine
 * patches it again. Only in a phase still in progress (or halted after its gate failed): an asset of
 * a phase that passed would never be picked up again, and a pending asset would fail an observing
 * phase's health gate.
 */
export async function retryAsset(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: AssetControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "retry", input, async (w) => {
    requireForwardRollout(w, "retry");
    const a = await lockAsset(w.trx, w.row.id, input.asset);
    if (a.state !== "failed" && a.state !== "reverted") {
      throw illegal(
        w.row,
        "retry",
        `asset ${a.asset_name} is ${a.state}; only a failed or reverted asset is retried`,
      );
    }
    const phase = await w.trx
      .selectFrom("rollout_phases")
      .select(["name", "state"])
      .where("rollout_id", "=", w.row.id)
      .where("idx", "=", a.phase_idx)
      .executeTakeFirst();
    if (phase && !["pending", "running", "failed"].includes(phase.state)) {
      throw illegal(
        w.row,
        "retry",
        `asset ${a.asset_name}'s phase ${phase.name} is ${phase.state}; retry an asset while its phase runs`,
      );
    }
    const attempt = Number(a.attempt) + 1;
    await w.trx
      .updateTable("rollout_assets")
      .set({
        state: "pending",
        state_reason: `retried by ${w.actor.principal}: ${w.reason}`,
        attempt,
        started_at: null,
        unavailable_since: null,
        finished_at: null,
        updated_at: w.now.toISOString(),
      })
      .where("rollout_id", "=", w.row.id)
      .where("asset_id", "=", a.asset_id)
      .execute();
    await updateRollout(w, {});
    await audit(w, "rollout.control.retry", { asset: a.asset_name, from: a.state, attempt });
    await assetEvent(w, a, "pending", { attempt });
  });
}

/**
 * A pending or failed asset → skipped (left out of the rollout); its queued operation, if any, is
 * cancelled before a host takes it.
 */
export async function skipAsset(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: AssetControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "skip", input, async (w) => {
    requireForwardRollout(w, "skip");
    const a = await lockAsset(w.trx, w.row.id, input.asset);
    if (a.state !== "pending" && a.state !== "failed") {
      throw illegal(
        w.row,
        "skip",
        `asset ${a.asset_name} is ${a.state}; only a pending or failed asset is skipped`,
      );
    }
    const at = w.now.toISOString();
    const queued = await w.trx
      .selectFrom("operations")
      .select("id")
      .where("rollout_id", "=", w.row.id)
      .where("asset_id", "=", a.asset_id)
      .where("state", "=", "queued")
      .execute();
    if (queued.length > 0) {
      await w.trx
        .updateTable("operations")
        .set({
          state: "cancelled",
          error: `skipped by ${w.actor.principal}`,
          finished_at: at,
          updated_at: at,
        })
        .where(
          "id",
          "in",
          queued.map((q) => q.id),
        )
        .where("state", "=", "queued")
        .execute();
    }
    await w.trx
      .updateTable("rollout_assets")
      .set({
        state: "skipped",
        state_reason: `skipped by ${w.actor.principal}: ${w.reason}`,
        unavailable_since: null,
        updated_at: at,
      })
      .where("rollout_id", "=", w.row.id)
      .where("asset_id", "=", a.asset_id)
      .execute();
    await updateRollout(w, {});
    const cancelled = queued.map((q) => q.id);
    await audit(w, "rollout.control.skip", { asset: a.asset_name, from: a.state, cancelled });
    await assetEvent(w, a, "skipped", { cancelled });
  });
}

/** Ends the current phase's observation early: the engine passes it on its next pass if healthy. */
export async function promoteRollout(
  ctx: ServiceContext,
  actor: Actor,
  rolloutId: string,
  input: ControlInput,
): Promise<RolloutView> {
  return control(ctx, actor, rolloutId, "promote", input, async (w) => {
    requireStates(w.row, "promote", ["running", "paused"]);
    const phase = await w.trx
      .selectFrom("rollout_phases")
      .select(["idx", "name", "state", "promoted_by"])
      .where("rollout_id", "=", w.row.id)
      .where("idx", "=", w.row.current_phase)
      .executeTakeFirst();
    if (phase?.state !== "observing") {
      const where = phase ? `its phase ${phase.name} is ${phase.state}` : "it has no phase in progress";
      throw illegal(w.row, "promote", `${where}; only an observing phase is promoted`);
    }
    if (phase.promoted_by !== null)
      throw illegal(w.row, "promote", `${phase.promoted_by} promoted ${phase.name} already`);
    await w.trx
      .updateTable("rollout_phases")
      .set({ promoted_by: w.actor.principal })
      .where("rollout_id", "=", w.row.id)
      .where("idx", "=", phase.idx)
      .execute();
    await updateRollout(w, {});
    await audit(w, "rollout.control.promote", { phase: phase.name, observeUntil: null });
  });
}

export interface StopAllResult {
  stopAll: StopAllView | null;
  /** The rollouts in progress when the switch changed: the engine pauses (or resumes) them. */
  rollouts: string[];
}

async function liveRollouts(trx: Kysely<Database>): Promise<RolloutRow[]> {
  return trx
    .selectFrom("rollouts")
    .selectAll()
    .where("state", "not in", [...TERMINAL_ROLLOUT_STATES])
    .orderBy("id")
    .execute();
}

async function engineEvent(
  trx: Kysely<Database>,
  actor: Actor,
  action: string,
  reason: string,
  data: Record<string, unknown>,
  now: Date,
): Promise<void> {
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action,
      targetType: "engine",
      targetId: STOP_ALL_SWITCH,
      reason,
      data: { principal: actor.principal, ...data },
    },
    now,
  );
}

/**
 * The global emergency stop: every rollout in progress pauses on the engine's next pass and no new one
 * starts until `resume-all`. Every live rollout's revision is bumped in the same write, so a decision
 * taken before the stop (a dispatch about to be written) is not applied.
 */
export async function stopAll(
  ctx: ServiceContext,
  actor: Actor,
  input: ControlInput,
): Promise<StopAllResult> {
  requireOperator(actor, "rollout stop-all");
  const reason = requireText(input.reason, "rollout.reason-required", "rollout stop-all");
  const rollouts = await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const existing = await stopAllOf(trx);
    if (existing !== null) {
      throw reasonError(
        "rollout.stop-all-active",
        `the emergency stop is set already (by ${existing.setBy} at ${existing.setAt}: ${existing.reason ?? ""})`,
      );
    }
    await trx
      .insertInto("engine_switches")
      .values({
        name: STOP_ALL_SWITCH,
        value: "on",
        reason,
        set_by: actor.principal,
        set_at: now.toISOString(),
      })
      .execute();
    const live = await liveRollouts(trx);
    if (live.length > 0) {
      await trx
        .updateTable("rollouts")
        .set((eb) => ({ revision: eb("revision", "+", 1), updated_at: now.toISOString() }))
        .where(
          "id",
          "in",
          live.map((r) => r.id),
        )
        .execute();
    }
    const ids = live.map((r) => r.id);
    await engineEvent(trx, actor, "engine.stop-all", reason, { rollouts: ids }, now);
    return ids;
  });
  return { stopAll: await stopAllOf(ctx.store.db), rollouts };
}

/** Lifts the emergency stop: the engine resumes the rollouts it paused for it; operators' pauses stay. */
export async function resumeAll(
  ctx: ServiceContext,
  actor: Actor,
  input: ControlInput,
): Promise<StopAllResult> {
  requireOperator(actor, "rollout resume-all");
  const reason = requireText(input.reason, "rollout.reason-required", "rollout resume-all");
  const rollouts = await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const existing = await stopAllOf(trx);
    if (existing === null) throw reasonError("rollout.stop-all-inactive", "the emergency stop is not set");
    await trx.deleteFrom("engine_switches").where("name", "=", STOP_ALL_SWITCH).execute();
    const live = await liveRollouts(trx);
    const ids = live.map((r) => r.id);
    await engineEvent(
      trx,
      actor,
      "engine.resume-all",
      reason,
      { rollouts: ids, stoppedAt: existing.setAt },
      now,
    );
    return ids;
  });
  return { stopAll: null, rollouts };
}
