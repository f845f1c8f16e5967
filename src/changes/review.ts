/**
 * The post-hoc review the emergency fast path owes: pending (then overdue) from the moment the change
 * is scheduled until an approver who is not the requester records it with a reason.
 */
import { ConflictError, ValidationError } from "../domain/errors.js";
import type { Actor } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { ApprovalRule } from "./approval-rule.js";
import { checkApprover } from "./approvals.js";
import type { ChangeRequest } from "./change-request.js";
import { readChange } from "./queries.js";
import { lockChange, writeEvent } from "./records.js";

export async function reviewChange(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: { reason?: string | undefined },
): Promise<ChangeRequest> {
  const reason = input.reason?.trim() ?? "";
  if (reason === "") throw new ValidationError("a review needs a reason", { where: "/reason" });
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await lockChange(trx, id);
    if (row.review_state !== "pending" || row.approval_rule === null) {
      throw new ConflictError(
        `change ${id} has no pending review (${row.review_state === "done" ? `reviewed by ${row.reviewed_by ?? "?"}` : "none is required"})`,
        { details: { state: row.state, review: row.review_state } },
      );
    }
    checkApprover(actor, row, JSON.parse(row.approval_rule) as ApprovalRule, "review");
    const overdue = row.review_due_at !== null && row.review_due_at < now.toISOString();
    await writeEvent(trx, row, {
      actor,
      action: "reviewed",
      reason,
      now,
      set: {
        review_state: "done",
        reviewed_by: actor.name,
        reviewed_at: now.toISOString(),
        review_reason: reason,
      },
      data: { dueAt: row.review_due_at, overdue },
    });
  });
  return readChange(ctx, id);
}
