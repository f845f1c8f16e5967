import { type Kysely, type SelectQueryBuilder, sql } from "kysely";
import { capabilitiesOf } from "./capabilities.js";
import type { Database } from "./schema.js";

/**
 * For `query.$call(forUpdate(trx))`: locks the selected rows until the transaction ends where the
 * database has row locks. Where it has none there is one writer at a time, which serialises as well.
 */
export function forUpdate(db: Kysely<Database>): <Q extends { forUpdate(): Q }>(query: Q) => Q {
  const locks = capabilitiesOf(db).rowLocks;
  return (query) => (locks ? query.forUpdate() : query);
}

/**
 * Serialises the transactions that take the same named lock (across replicas), until each ends.
 * Without named locks there is one writer at a time already.
 */
export async function lockNamed(trx: Kysely<Database>, name: string): Promise<void> {
  if (!trx.isTransaction) throw new Error("lockNamed must run inside a transaction");
  if (!capabilitiesOf(trx).advisoryLocks) return;
  await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(trx);
}

/**
 * Locks the selected rows for the rest of the transaction, skipping rows another transaction holds.
 * Where writes run concurrently, claimers need row locks to stay apart; with one writer at a time a
 * write transaction already excludes every other claimer.
 */
export function lockSkippingLocked<DB, TB extends keyof DB, O>(
  db: Kysely<Database>,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return capabilitiesOf(db).skipLocked ? query.forUpdate().skipLocked() : query;
}
