import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";
import type { WorkKind } from "./work-kind.js";

/** What a commit owes: the key work of one kind coalesces on, and what the work reads. */
export interface OwedWork<P> {
  key: string;
  payload: P;
}

/** Rows per INSERT: well under both dialects' bound-parameter limits. */
const CHUNK = 500;

/**
 * Records work owed by the caller's transaction, so it commits (or rolls back) with the change that
 * owes it. An item already owed under the same key stays one row, takes this commit's payload and
 * becomes due now: the next run reads the state this commit leaves, which covers both debts.
 */
export async function oweWork<P>(
  trx: Kysely<Database>,
  kind: WorkKind<P>,
  items: ReadonlyArray<OwedWork<P>>,
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  // One row per key even when the caller names a key twice (an upsert may not touch a row twice).
  const byKey = new Map(items.map((item) => [item.key, item]));
  const rows = [...byKey.values()]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((item) => ({
      id: randomUUID(),
      kind: kind.name,
      key: item.key,
      payload: JSON.stringify(item.payload),
      created_at: at,
      attempts: 0,
      next_attempt_at: at,
      lease_owner: null,
      lease_expires_at: null,
      last_error: null,
    }));
  for (let i = 0; i < rows.length; i += CHUNK) {
    await trx
      .insertInto("work_items")
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc.columns(["kind", "key"]).doUpdateSet((eb) => ({
          payload: eb.ref("excluded.payload"),
          next_attempt_at: eb.ref("excluded.next_attempt_at"),
        })),
      )
      .execute();
  }
}
