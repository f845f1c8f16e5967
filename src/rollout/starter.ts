/**
 * Starts the scheduled changes whose time has come: a rollout with its phases and assets from the
 * frozen plan, the change `scheduled → running` pointing at it, the audit events and the `started`
 * notification, all in one write. A change starts when its scheduled start has passed, its policy's
 * calendar allows now (window open, no freeze; an approved emergency overrides them as the planner
 * allows it), the emergency stop is not set, and — unless it is an emergency — `notifyBefore` has
 * passed since its starting-soon notification went out (`0s`: at once). The rollout's id derives from
 * the change's and its change_id is unique, so two replicas (or a retry) never start it twice.
 */
import type { Insertable, Kysely } from "kysely";
import { appendAudit } from "../audit/log.js";
import type { PlanV2 } from "../changes/plan.js";
import { type ChangeRow, lockChange, pinOf, writeTransition } from "../changes/records.js";
import { overrideVouched } from "../changes/scheduling.js";
import { actorLabel, SYSTEM_ACTOR } from "../domain/roles.js";
import { enqueueNotifications } from "../notify/outbox.js";
import { checkStart } from "../policy/calendar.js";
import type { Policy } from "../policy/schema.js";
import { loadPinnedPolicy } from "../policy/store.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, RolloutAssetsTable, RolloutPhasesTable } from "../store/schema.js";
import { rolloutIdFor, STOP_ALL_SWITCH } from "./model.js";

export interface StartReport {
  started: string[];
  /** Changes that are due but wait, and why (for logs and tests). */
  waiting: Array<{ change: string; reason: string }>;
}

/** The frozen plan, when it is one the engine executes (version 2). */
export function executablePlan(row: Pick<ChangeRow, "plan">): PlanV2 | null {
  if (row.plan === null) return null;
  const plan = JSON.parse(row.plan) as { version?: number };
  return plan.version === 2 ? (plan as PlanV2) : null;
}

async function startingSoonAt(db: Kysely<Database>, row: ChangeRow): Promise<string | null> {
  const events = await db
    .selectFrom("audit_events")
    .select(["at", "data"])
    .where("target_type", "=", "change")
    .where("target_id", "=", row.id)
    .where("action", "=", "change.starting-soon")
    .orderBy("seq", "desc")
    .execute();
  const event = events.find((e) => (JSON.parse(e.data) as { start?: string }).start === row.scheduled_start);
  return event?.at ?? null;
}

/** Why the change may not start now, or null when it may. */
async function whyWait(ctx: ServiceContext, row: ChangeRow, plan: PlanV2, policy: Policy, now: Date) {
  if (row.scheduled_start !== null && new Date(row.scheduled_start).getTime() > now.getTime()) {
    return `scheduled for ${row.scheduled_start}`;
  }
  const vouched = overrideVouched(row);
  const decision = checkStart(policy, now, {
    emergency: vouched,
    ...(row.justification === null ? {} : { justification: row.justification }),
    ...(row.override_approver === null ? {} : { approver: row.override_approver }),
  });
  if (!decision.allowed) return decision.reason;
  if (!vouched && plan.notifyBeforeMs > 0) {
    const announced = await startingSoonAt(ctx.store.db, row);
    if (announced === null) return "waiting for its starting-soon notification";
    const due = new Date(new Date(announced).getTime() + plan.notifyBeforeMs);
    if (due.getTime() > now.getTime())
      return `announced at ${announced}: starts no earlier than ${due.toISOString()}`;
  }
  return null;
}

/** Starts every scheduled change that is due. Safe on every replica at once. */
export async function startDueChanges(ctx: ServiceContext): Promise<StartReport> {
  const report: StartReport = { started: [], waiting: [] };
  const stop = await ctx.store.db
    .selectFrom("engine_switches")
    .select("reason")
    .where("name", "=", STOP_ALL_SWITCH)
    .executeTakeFirst();
  const rows = await ctx.store.db
    .selectFrom("change_requests")
    .selectAll()
    .where("state", "=", "scheduled")
    .where("rollout_id", "is", null)
    .orderBy("scheduled_start")
    .execute();
  const policies = new Map<string, Policy>();
  for (const row of rows) {
    try {
      const plan = executablePlan(row);
      if (plan === null) {
        report.waiting.push({ change: row.id, reason: "its plan is not an executable (version 2) plan" });
        continue;
      }
      if (stop) {
        report.waiting.push({ change: row.id, reason: `emergency stop: ${stop.reason ?? ""}` });
        continue;
      }
      const key = `${row.policy_name}@${row.policy_version}`;
      const policy = policies.get(key) ?? (await loadPinnedPolicy(ctx.store.db, pinOf(row)));
      policies.set(key, policy);
      const now = ctx.now();
      const why = await whyWait(ctx, row, plan, policy, now);
      if (why !== null) {
        report.waiting.push({ change: row.id, reason: why });
        continue;
      }
      if (await startRollout(ctx, row.id, plan, policy, now)) report.started.push(rolloutIdFor(row.id));
    } catch (err) {
      // One change whose policy or plan cannot be read must not hold up the others.
      ctx.logger.error({ err, change: row.id }, "starting a rollout failed");
    }
  }
  return report;
}

/** Creates the rollout and moves the change to running; false when another writer started it first. */
async function startRollout(
  ctx: ServiceContext,
  changeId: string,
  plan: PlanV2,
  policy: Policy,
  now: Date,
): Promise<boolean> {
  return ctx.store.write(async (trx) => {
    const row = await lockChange(trx, changeId);
    if (row.state !== "scheduled" || row.rollout_id !== null) return false;
    const stop = await trx
      .selectFrom("engine_switches")
      .select("name")
      .where("name", "=", STOP_ALL_SWITCH)
      .executeTakeFirst();
    if (stop) return false;
    const id = rolloutIdFor(changeId);
    const at = now.toISOString();
    const inserted = await trx
      .insertInto("rollouts")
      .values({
        id,
        change_id: changeId,
        state: "running",
        state_reason: "started",
        plan: JSON.stringify(plan),
        current_phase: 0,
        paused_by: null,
        gate_failed_at: null,
        failed_gate: null,
        rollback_scope: null,
        time_to_rollback_ms: null,
        lease_owner: null,
        lease_expires_at: null,
        paused_since: null,
        revision: 1,
        created_at: at,
        started_at: at,
        finished_at: null,
        updated_at: at,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;

    const phase = (
      idx: number,
      name: string,
      kind: string,
      ring: string | null,
    ): Insertable<RolloutPhasesTable> => ({
      rollout_id: id,
      idx,
      name,
      kind,
      ring,
      state: "pending",
      started_at: null,
      observe_until: null,
      finished_at: null,
      promoted_by: null,
      gate_results: "[]",
      paused_ms: 0,
    });
    const phases = plan.phases.map((p, idx) => phase(idx, p.name, p.kind, p.ring));
    if (plan.finalVerification) phases.push(phase(plan.phases.length, "final-verification", "final", null));
    if (phases.length > 0) await trx.insertInto("rollout_phases").values(phases).execute();

    const targets = new Map(plan.targets.map((t) => [t.id, t]));
    const assets: Array<Insertable<RolloutAssetsTable>> = [];
    let seq = 0;
    plan.phases.forEach((p, phaseIdx) => {
      for (const a of p.assets) {
        const t = targets.get(a.id);
        assets.push({
          rollout_id: id,
          asset_id: a.id,
          asset_name: a.name,
          phase_idx: phaseIdx,
          seq: seq++,
          group_name: t?.group ?? "",
          region: t?.region ?? "",
          state: "pending",
          state_reason: null,
          from_version: t?.fromVersion ?? null,
          to_version: t?.toVersion ?? plan.patch.version,
          attempt: 1,
          snapshot: null,
          started_at: null,
          unavailable_since: null,
          finished_at: null,
          updated_at: at,
        });
      }
    });
    await insertAssets(trx, assets);

    await writeTransition(trx, row, {
      actor: SYSTEM_ACTOR,
      action: "start",
      reason: `rollout ${id} started`,
      now,
      set: { rollout_id: id },
      data: { rollout: id },
    });
    await appendAudit(
      trx,
      {
        actor: actorLabel(SYSTEM_ACTOR),
        action: "rollout.started",
        targetType: "rollout",
        targetId: id,
        reason: plan.schedule.reason,
        data: {
          change: changeId,
          phases: plan.phases.map((p) => ({ name: p.name, assets: p.assets.map((a) => a.name) })),
          assets: assets.length,
          emergency: plan.emergency,
        },
      },
      now,
    );
    await enqueueNotifications(
      trx,
      policy,
      "started",
      {
        type: "change",
        id: changeId,
        title: row.title,
        data: {
          rollout: id,
          package: row.package_name,
          version: row.package_version,
          selector: row.selector,
          assets: assets.length,
          phases: plan.phases.map((p) => p.name),
        },
      },
      now,
      id,
    );
    return true;
  });
}

async function insertAssets(
  trx: Kysely<Database>,
  rows: Array<Insertable<RolloutAssetsTable>>,
): Promise<void> {
  // Bounded batches: PostgreSQL and SQLite cap the parameters of one statement.
  for (let i = 0; i < rows.length; i += 200) {
    await trx
      .insertInto("rollout_assets")
      .values(rows.slice(i, i + 200))
      .execute();
  }
}
