/**
 * Planning a change and freezing the plan: the assets are resolved from the selector now, the installed
 * version of the package on each decides which are targets, the pinned policy decides the phases and
 * the start. An emergency may start inside a freeze or outside the
 * windows only with its recorded justification and an approver (invariant 5); until an approver has
 * approved it, it is planned like any other change and the plan's reason says what it waits for.
 */
import type { Kysely } from "kysely";
import type { Actor } from "../domain/roles.js";
import { enqueueNotifications } from "../notify/outbox.js";
import { checkStart } from "../policy/calendar.js";
import type { Policy } from "../policy/schema.js";
import type { Database } from "../store/schema.js";
import type { ApprovalRule } from "./approval-rule.js";
import { installedRows, installedVersions, packagesOfChange } from "./installed.js";
import type { PlanV2 } from "./plan.js";
import { buildPlan } from "./planner.js";
import { type ChangeRow, writeEvent, writeTransition } from "./records.js";
import { patchOfRow } from "./stored-plan.js";
import { requireTargets } from "./targets.js";

const present = (text: string | null): boolean => text !== null && text.trim() !== "";

/** True when the change may use the emergency override: emergency, justified and approved by someone. */
export function overrideVouched(row: ChangeRow): boolean {
  return Number(row.emergency) === 1 && present(row.justification) && present(row.override_approver);
}

/**
 * A fresh plan for the change; stores nothing. ValidationError when the selector matches no asset now
 * or the change's version is not valid in the ecosystem the package is installed under.
 */
export async function planChange(
  db: Kysely<Database>,
  row: ChangeRow,
  policy: Policy,
  now: Date,
): Promise<PlanV2> {
  const assets = await requireTargets(db, row.selector);
  const { ecosystem, installed } = installedVersions(
    await installedRows(
      db,
      assets.map((a) => a.id),
      packagesOfChange(row),
    ),
  );
  const vouched = overrideVouched(row);
  const plan = buildPlan({
    assets,
    installed,
    patch: patchOfRow(row, ecosystem),
    policy,
    policyRef: { name: row.policy_name, version: Number(row.policy_version), hash: row.policy_hash },
    selector: row.selector,
    emergency: vouched,
    now,
  });
  if (Number(row.emergency) === 1 && !vouched) {
    // Say so only when an approver would change the start: not for a freeze that allows no override.
    const without = checkStart(policy, now, { emergency: true, justification: row.justification });
    const withApprover = checkStart(policy, now, {
      emergency: true,
      justification: row.justification,
      approver: "an approver",
    });
    if (!without.allowed && withApprover.allowed) {
      plan.schedule.reason += `; an emergency start now needs an approver as well as the justification: an approver runs \`autopatch change approve ${row.id}\``;
    }
  }
  return plan;
}

function reviewFields(row: ChangeRow, rule: ApprovalRule | null, startIso: string) {
  if (rule === null || rule.postReviewWithinMs === null || row.review_state === "done") return {};
  const due = new Date(new Date(startIso).getTime() + rule.postReviewWithinMs).toISOString();
  return { review_state: "pending", review_due_at: due };
}

function subject(row: ChangeRow, plan: PlanV2) {
  return {
    type: "change" as const,
    id: row.id,
    title: row.title,
    data: {
      package: row.package_name,
      version: row.package_version,
      selector: row.selector,
      emergency: Number(row.emergency) === 1,
      start: plan.schedule.start,
      window: plan.schedule.window,
      reason: plan.schedule.reason,
      phases: plan.phases.map((p) => ({ name: p.name, assets: p.assets.length, start: p.start })),
      policy: plan.policy,
    },
  };
}

function auditFacts(plan: PlanV2) {
  return {
    start: plan.schedule.start,
    window: plan.schedule.window,
    emergencyOverride: plan.emergency,
    phases: plan.phases.map((p) => ({ name: p.name, assets: p.assets.map((a) => a.name) })),
    summary: plan.summary,
  };
}

/**
 * Plans an approved (or, on the fast path, submitted) change and moves it to scheduled with the plan
 * frozen, the start set and the `scheduled` notification enqueued. When no allowed start exists within
 * the planner's horizon the change stays (or becomes) approved, with the plan and its reason stored.
 */
export async function scheduleChange(
  trx: Kysely<Database>,
  row: ChangeRow,
  policy: Policy,
  actor: Actor,
  now: Date,
): Promise<ChangeRow> {
  const plan = await planChange(trx, row, policy, now);
  const rule = row.approval_rule === null ? null : (JSON.parse(row.approval_rule) as ApprovalRule);
  if (plan.schedule.start === null) {
    const set = { plan: JSON.stringify(plan) };
    if (row.state === "submitted") {
      return writeTransition(trx, row, {
        actor,
        action: "approve",
        reason: `no approval required; not scheduled: ${plan.schedule.reason}`,
        now,
        set,
        data: auditFacts(plan),
      });
    }
    return writeEvent(trx, row, {
      actor,
      action: "not-scheduled",
      reason: plan.schedule.reason,
      now,
      set,
      data: auditFacts(plan),
    });
  }
  const start = new Date(plan.schedule.start).toISOString();
  const scheduled = await writeTransition(trx, row, {
    actor,
    action: "schedule",
    reason: plan.schedule.reason,
    now,
    set: { plan: JSON.stringify(plan), scheduled_start: start, ...reviewFields(row, rule, start) },
    data: auditFacts(plan),
  });
  await enqueueNotifications(trx, policy, "scheduled", subject(scheduled, plan), now, start);
  return scheduled;
}

/**
 * Plans a scheduled emergency again once an approver has vouched for it, so it may start inside a
 * freeze or outside the windows; the new start is announced as a new `scheduled` occurrence.
 */
export async function rescheduleChange(
  trx: Kysely<Database>,
  row: ChangeRow,
  policy: Policy,
  actor: Actor,
  now: Date,
): Promise<ChangeRow> {
  const plan = await planChange(trx, row, policy, now);
  if (plan.schedule.start === null) return row;
  const rule = row.approval_rule === null ? null : (JSON.parse(row.approval_rule) as ApprovalRule);
  const start = new Date(plan.schedule.start).toISOString();
  const pending = row.review_state === "pending" ? reviewFields(row, rule, start) : {};
  const updated = await writeEvent(trx, row, {
    actor,
    action: "rescheduled",
    reason: plan.schedule.reason,
    now,
    set: { plan: JSON.stringify(plan), scheduled_start: start, ...pending },
    data: { previousStart: row.scheduled_start, ...auditFacts(plan) },
  });
  if (start !== row.scheduled_start) {
    await enqueueNotifications(trx, policy, "scheduled", subject(updated, plan), now, start);
  }
  return updated;
}
