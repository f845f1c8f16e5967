/** Reading change requests and their plans. Nothing here writes: planning a draft changes nothing. */
import { NotFoundError, ValidationError } from "../domain/errors.js";
import { loadPinnedPolicy } from "../policy/store.js";
import type { ServiceContext } from "../service/context.js";
import { type ChangeRequest, rowToChange } from "./change-request.js";
import { CHANGE_STATES, isChangeState } from "./lifecycle.js";
import type { PlanV2 } from "./plan.js";
import { type ApprovalRow, approvalsOf, pinOf } from "./records.js";
import { planChange } from "./scheduling.js";
import { loadStoredPlan } from "./stored-plan.js";

async function requireRow(ctx: ServiceContext, id: string) {
  const row = await ctx.store.db
    .selectFrom("change_requests")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no change ${id}`);
  return row;
}

export async function readChange(ctx: ServiceContext, id: string): Promise<ChangeRequest> {
  const row = await requireRow(ctx, id);
  return rowToChange(row, await approvalsOf(ctx.store.db, id), ctx.now());
}

export interface ListChangesOptions {
  state?: string | undefined;
}

/** Changes, newest first, optionally in one state. */
export async function listChanges(
  ctx: ServiceContext,
  options: ListChangesOptions = {},
): Promise<ChangeRequest[]> {
  const { state } = options;
  if (state !== undefined && !isChangeState(state)) {
    throw new ValidationError(`"${state}" is not a change state (use ${CHANGE_STATES.join(", ")})`, {
      where: "/state",
    });
  }
  const rows = await ctx.store.db
    .selectFrom("change_requests")
    .selectAll()
    .$if(state !== undefined, (q) => q.where("state", "=", state ?? ""))
    .orderBy("created_at", "desc")
    .orderBy("id")
    .execute();
  const approvals = new Map<string, ApprovalRow[]>();
  if (rows.length > 0) {
    // One query for every listed change's approvals, in chunks to stay under bind-parameter limits.
    const ids = rows.map((r) => r.id);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = await ctx.store.db
        .selectFrom("approvals")
        .selectAll()
        .where("change_id", "in", ids.slice(i, i + 500))
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      for (const a of chunk) approvals.set(a.change_id, [...(approvals.get(a.change_id) ?? []), a]);
    }
  }
  const now = ctx.now();
  return rows.map((r) => rowToChange(r, approvals.get(r.id) ?? [], now));
}

/**
 * The change's plan: the frozen one once it has been planned for good (approved or scheduled and
 * after), otherwise a fresh plan from the pinned policy and the assets the selector matches now.
 */
export async function getChangePlan(ctx: ServiceContext, id: string): Promise<PlanV2> {
  const row = await requireRow(ctx, id);
  const stored = await loadStoredPlan(ctx.store.db, row);
  if (stored !== null) return stored;
  const policy = await loadPinnedPolicy(ctx.store.db, pinOf(row));
  return planChange(ctx.store.db, row, policy, ctx.now());
}
