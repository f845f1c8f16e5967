/**
 * Approving and rejecting change requests under the rule frozen at submit: enough approvals from the
 * allowed roles, never the requester's own (separation of duties), one per principal, and
 * only those that have not expired count. The approval that makes enough plans the change and
 * schedules it in the same transaction.
 */
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { AuthError, ConflictError } from "../domain/errors.js";
import type { Actor } from "../domain/roles.js";
import { loadPinnedPolicy } from "../policy/store.js";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";
import type { ApprovalRule } from "./approval-rule.js";
import { approvalValid, type ChangeRequest, countValidApprovals } from "./change-request.js";
import { transition } from "./lifecycle.js";
import { readChange } from "./queries.js";
import {
  approvalsOf,
  type ChangeRow,
  lockChange,
  pinOf,
  stateOf,
  writeEvent,
  writeTransition,
} from "./records.js";
import { overrideVouched, rescheduleChange, scheduleChange } from "./scheduling.js";

export interface DecisionInput {
  reason?: string | undefined;
}

function frozenRule(row: ChangeRow): ApprovalRule {
  if (row.approval_rule === null) throw new Error(`change ${row.id} has no approval rule`);
  return JSON.parse(row.approval_rule) as ApprovalRule;
}

/** The actor may decide on the change: a role the rule accepts, and not the requester when duties are separated. */
export function checkApprover(actor: Actor, row: ChangeRow, rule: ApprovalRule, what = "approve"): void {
  if (actor.role === null || !rule.fromRoles.includes(actor.role)) {
    throw new AuthError(
      "forbidden",
      `only ${rule.fromRoles.join(" or ")} may ${what} change ${row.id} under policy ${row.policy_name}@${row.policy_version}; this token's role is ${actor.role ?? "none (agent)"}`,
    );
  }
  if (rule.separationOfDuties && actor.principal === row.requester_principal) {
    throw new AuthError(
      "forbidden",
      `separation of duties: principal "${actor.principal}" requested change ${row.id} and cannot ${what} it`,
      { reason: "approval.separation-of-duties" },
    );
  }
}

async function recordDecision(
  trx: Kysely<Database>,
  row: ChangeRow,
  actor: Actor,
  decision: "approve" | "reject",
  reason: string | null,
  rule: ApprovalRule,
  now: Date,
): Promise<void> {
  await trx
    .insertInto("approvals")
    .values({
      id: randomUUID(),
      change_id: row.id,
      decision,
      approver: `${actor.kind}:${actor.name}`,
      approver_name: actor.name,
      approver_principal: actor.principal,
      approver_role: actor.role ?? "",
      reason,
      created_at: now.toISOString(),
      expires_at: decision === "approve" ? new Date(now.getTime() + rule.expiresAfterMs).toISOString() : null,
    })
    .execute();
}

/**
 * Records an approval. On a submitted change, the approval that makes enough moves it to approved and
 * on to scheduled (plan frozen, `scheduled` notification enqueued). On a scheduled emergency that no
 * approver has vouched for yet, the approval is the approver its freeze or window override needs: the
 * change is planned again and may start at once.
 */
export async function approveChange(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: DecisionInput = {},
): Promise<ChangeRequest> {
  const reason = input.reason?.trim() || null;
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    let row = await lockChange(trx, id);
    const state = stateOf(row);
    const vouching = state === "scheduled" && Number(row.emergency) === 1 && !overrideVouched(row);
    if (state !== "submitted" && !vouching) transition(id, state, "approve");
    const rule = frozenRule(row);
    checkApprover(actor, row, rule);
    const approvals = await approvalsOf(trx, id);
    const mine = approvals.find((a) => a.approver_principal === actor.principal && approvalValid(a, now));
    if (mine) {
      throw new ConflictError(
        `principal "${actor.principal}" approved change ${id} already at ${mine.created_at} (token "${mine.approver_name}"); one person's approvals count once`,
        { reason: "approval.duplicate", details: { state } },
      );
    }
    await recordDecision(trx, row, actor, "approve", reason, rule, now);
    const valid = countValidApprovals(await approvalsOf(trx, id), now);
    const vouch =
      Number(row.emergency) === 1 && row.override_approver === null ? { override_approver: actor.name } : {};
    row = await writeEvent(trx, row, {
      actor,
      action: "approval-given",
      reason,
      now,
      set: vouch,
      data: {
        approver: actor.name,
        role: actor.role,
        validApprovals: valid,
        required: rule.required,
        // The approval an emergency without evidence waits for is its confirmation.
        ...(rule.emergency?.confirmationRequired === true ? { confirmsEmergency: true } : {}),
      },
    });
    const policy = await loadPinnedPolicy(trx, pinOf(row));
    if (vouching) {
      await rescheduleChange(trx, row, policy, actor, now);
      return;
    }
    if (valid < rule.required) return;
    row = await writeTransition(trx, row, {
      actor,
      action: "approve",
      reason: reason ?? `${valid} of ${rule.required} approvals`,
      now,
      data: { validApprovals: valid, required: rule.required },
    });
    await scheduleChange(trx, row, policy, actor, now);
  });
  return readChange(ctx, id);
}

/** An approver's rejection: submitted or approved → rejected. */
export async function rejectChange(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: DecisionInput = {},
): Promise<ChangeRequest> {
  const reason = input.reason?.trim() || null;
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await lockChange(trx, id);
    transition(id, stateOf(row), "reject");
    const rule = frozenRule(row);
    checkApprover(actor, row, rule, "reject");
    await recordDecision(trx, row, actor, "reject", reason, rule, now);
    await writeTransition(trx, row, {
      actor,
      action: "reject",
      reason,
      now,
      data: { approver: actor.name, role: actor.role },
    });
  });
  return readChange(ctx, id);
}
