import type { ExpressionBuilder, Kysely, Selectable } from "kysely";
import type { Database, OutboxTable } from "../store/schema.js";
import type { Store } from "../store/store.js";

export type OutboxRow = Selectable<OutboxTable>;

/** Pending, due, and not leased by a live worker. */
function due(nowIso: string) {
  return (eb: ExpressionBuilder<Database, "outbox">) =>
    eb.and([
      eb("delivered_at", "is", null),
      eb("dead_at", "is", null),
      eb("next_attempt_at", "<=", nowIso),
      eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<=", nowIso)]),
    ]);
}

/**
 * Takes a lease on up to `batch` due messages until `now + leaseMs` and returns them. Another worker
 * skips leased messages; when a worker dies holding a lease, its messages are due again once it ends.
 */
export async function claimDue(
  store: Store,
  now: Date,
  batch: number,
  leaseMs: number,
): Promise<OutboxRow[]> {
  const nowIso = now.toISOString();
  const until = new Date(now.getTime() + leaseMs).toISOString();
  // Most polls find nothing due: a read says so without a write transaction (and its commit).
  const anyDue = await store.db
    .selectFrom("outbox")
    .select("id")
    .where(due(nowIso))
    .limit(1)
    .executeTakeFirst();
  if (anyDue === undefined) return [];
  const claim = store.capabilities.skipLocked ? claimSkippingLocked : claimAtOnce;
  const rows = await store.write((trx) => claim(trx, nowIso, until, batch));
  return rows
    .map((r) => ({ ...r, attempts: Number(r.attempts) }))
    .sort((a, b) => a.next_attempt_at.localeCompare(b.next_attempt_at) || a.id.localeCompare(b.id));
}

/**
 * SKIP LOCKED: concurrent claimers each lock different rows instead of queueing behind one another;
 * a row claimed and committed meanwhile fails the re-checked condition.
 */
async function claimSkippingLocked(
  trx: Kysely<Database>,
  nowIso: string,
  until: string,
  batch: number,
): Promise<OutboxRow[]> {
  const ids = await trx
    .selectFrom("outbox")
    .select("id")
    .where(due(nowIso))
    .orderBy("next_attempt_at")
    .orderBy("id")
    .limit(batch)
    .forUpdate()
    .skipLocked()
    .execute();
  if (ids.length === 0) return [];
  return trx
    .updateTable("outbox")
    .set({ claimed_until: until })
    .where(
      "id",
      "in",
      ids.map((r) => r.id),
    )
    .returningAll()
    .execute();
}

/** With one writer at a time, one conditional UPDATE is the whole claim. */
async function claimAtOnce(
  trx: Kysely<Database>,
  nowIso: string,
  until: string,
  batch: number,
): Promise<OutboxRow[]> {
  return trx
    .updateTable("outbox")
    .set({ claimed_until: until })
    .where("id", "in", (eb) =>
      eb
        .selectFrom("outbox")
        .select("id")
        .where(due(nowIso))
        .orderBy("next_attempt_at")
        .orderBy("id")
        .limit(batch),
    )
    .where(due(nowIso))
    .returningAll()
    .execute();
}
