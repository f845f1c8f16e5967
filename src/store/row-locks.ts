import type { Kysely, SelectQueryBuilder } from "kysely";
import type { Database } from "./schema.js";
import { dialectOf } from "./store.js";

/**
 * Locks the selected rows for the rest of the transaction, skipping rows another transaction holds.
 * PostgreSQL runs concurrent write transactions, so claimers need row locks to stay apart; SQLite
 * has one writer at a time, so a write transaction already excludes every other claimer.
 */
export function lockSkippingLocked<DB, TB extends keyof DB, O>(
  db: Kysely<Database>,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return dialectOf(db) === "postgres" ? query.forUpdate().skipLocked() : query;
}
