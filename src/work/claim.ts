import type { ExpressionBuilder, Selectable } from "kysely";
import type { ServiceContext } from "../service/context.js";
import { lockSkippingLocked } from "../store/locks.js";
import type { Database, WorkItemsTable } from "../store/schema.js";

export type WorkRow = Selectable<WorkItemsTable>;

export interface ClaimRequest {
  kind: string;
  owner: string;
  now: Date;
  limit: number;
  leaseMs: number;
  /** Claims only items due by then (default `now`): the work loop leaves fresh items to their owner. */
  dueBy?: Date;
}

/** Due, and not leased by a runner whose lease still holds. */
function due(kind: string, dueByIso: string, nowIso: string) {
  return (eb: ExpressionBuilder<Database, "work_items">) =>
    eb.and([
      eb("kind", "=", kind),
      eb("next_attempt_at", "<=", dueByIso),
      eb.or([eb("lease_owner", "is", null), eb("lease_expires_at", "<=", nowIso)]),
    ]);
}

/**
 * Leases up to `limit` due items of one kind to `owner` until `now + leaseMs`, in one write. Rows
 * another claimer holds are skipped rather than waited for, so runners on several replicas take
 * different items; a runner that dies leaves its items due again when the lease ends.
 */
export async function claimDue(ctx: ServiceContext, request: ClaimRequest): Promise<WorkRow[]> {
  const { kind, owner, now, limit, leaseMs } = request;
  const nowIso = now.toISOString();
  const dueBy = (request.dueBy ?? now).toISOString();
  const until = new Date(now.getTime() + leaseMs).toISOString();
  // Most polls find nothing due: a read says so without a write transaction (and its commit).
  const anyDue = await ctx.store.db
    .selectFrom("work_items")
    .select("id")
    .where(due(kind, dueBy, nowIso))
    .limit(1)
    .executeTakeFirst();
  if (anyDue === undefined) return [];
  const rows = await ctx.store.write(async (trx) => {
    const ids = await lockSkippingLocked(
      trx,
      trx
        .selectFrom("work_items")
        .select("id")
        .where(due(kind, dueBy, nowIso))
        .orderBy("next_attempt_at")
        .orderBy("id")
        .limit(limit),
    ).execute();
    if (ids.length === 0) return [];
    return trx
      .updateTable("work_items")
      .set({ lease_owner: owner, lease_expires_at: until })
      .where(
        "id",
        "in",
        ids.map((r) => r.id),
      )
      .where(due(kind, dueBy, nowIso))
      .returningAll()
      .execute();
  });
  return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
}
