import { CompiledQuery, type Kysely } from "kysely";
import { capabilitiesOf } from "../store/capabilities.js";
import { inChunks } from "../store/chunks.js";
import { param } from "../store/raw-sql.js";
import type { Database } from "../store/schema.js";
import type { Store } from "../store/store.js";

/**
 * The inverted index's log (migration 0021): reports append their pairs to `asset_package_log` and a
 * merge moves them into `asset_packages` in sorted batches. Readers join `set_packages`, which a merge
 * leaves unchanged. A merge is level-triggered: whatever is in the log is pending, and a batch leaves
 * the log in the same transaction that applies it to the index, so a crash loses nothing and merges
 * nothing twice. PostgreSQL reports write the index directly (src/inventory/report.ts, writeSetAtOnce)
 * and take along any log rows of the pairs they write; there the merge only drains what reports left
 * before they did.
 */

/** Pairs per merge transaction: long enough to write the index's pages once, short enough not to hold reports up. */
export const MERGE_BATCH = 20_000;
/** Pending pairs (as this process counted them) that wake the merge before its interval. */
export const MERGE_PENDING = 30_000;

/**
 * Appends a set's changed pairs to the log, inside the report's transaction. Ids sorted. One
 * statement for both kinds: each pair travels as one integer of a JSON array, its id doubled plus its
 * `present`, in key order (a statement per kind cost more than the few rows of a delta). `fresh`: the
 * set is new, so no log row can name it yet and the pairs need no upsert.
 */
export async function appendSetPairs(
  trx: Kysely<Database>,
  num: number,
  removedIds: readonly number[],
  addedIds: readonly number[],
  fresh = false,
): Promise<void> {
  if (removedIds.length + addedIds.length === 0) return;
  const caps = capabilitiesOf(trx);
  const jsonIds = caps.jsonIntegers.replace("{}", param(caps, 2, "text"));
  // One kind only (a first report, additions or removals alone): the ids as they are.
  const only = removedIds.length === 0 ? 1 : addedIds.length === 0 ? 0 : undefined;
  const rows =
    only === undefined
      ? `asset_package_log (package_id, set_num, present) select value / 2, ${param(caps, 1, "integer")}, value % 2 from (${jsonIds}) as v`
      : `asset_package_log (package_id, set_num, present) select value, ${param(caps, 1, "integer")}, ${only} from (${jsonIds}) as v`;
  // A plain insert that cannot conflict keeps SQLite's statement journal; `insert or ignore` does not
  // (see capabilities). `where true` lets SQLite parse the upsert after a select.
  await trx.executeQuery(
    CompiledQuery.raw(
      fresh
        ? caps.insertAbsentRows.replace("{}", rows)
        : `insert into ${rows} where true on conflict (package_id, set_num) do update set present = excluded.present`,
      [
        num,
        JSON.stringify(only === 1 ? addedIds : only === 0 ? removedIds : encodedPairs(removedIds, addedIds)),
      ],
    ),
  );
}

/** Both kinds merged in key order, each pair as its id doubled plus its `present`. */
function encodedPairs(removedIds: readonly number[], addedIds: readonly number[]): number[] {
  const pairs: number[] = [];
  let r = 0;
  let a = 0;
  while (r < removedIds.length || a < addedIds.length) {
    const removed = removedIds[r];
    const added = addedIds[a];
    if (added === undefined || (removed !== undefined && removed < added)) {
      pairs.push((removed as number) * 2);
      r += 1;
    } else {
      pairs.push(added * 2 + 1);
      a += 1;
    }
  }
  return pairs;
}

/**
 * Removes every pair of a set whose asset is deleted: the log's rows first (on PostgreSQL this waits
 * for a merge that holds them, whose index rows the next statement then sees), then the index's rows
 * by the set's ids and by the log's (a pair the log removes is still in the index).
 */
export async function deleteSetPairs(
  trx: Kysely<Database>,
  num: number,
  ids: readonly number[],
): Promise<void> {
  const logged = await trx
    .deleteFrom("asset_package_log")
    .where("set_num", "=", num)
    .returning("package_id")
    .execute();
  const all = [...new Set([...ids, ...logged.map((r) => Number(r.package_id))])];
  for (const chunk of inChunks(all)) {
    await trx
      .deleteFrom("asset_packages")
      .where("set_num", "=", num)
      .where("package_id", "in", chunk)
      .execute();
  }
}

/**
 * Merges one batch of the log (at most `limit` pairs, whole packages on SQLite) into the index, in one
 * transaction of its own. Returns the pairs merged: fewer than `limit` means the log was empty of
 * what it could take.
 */
export async function mergeBatch(store: Store, limit = MERGE_BATCH): Promise<number> {
  return store.write(
    async (trx) => {
      if (capabilitiesOf(trx).writableCte) {
        // Rows a report in flight holds are skipped (merged next time): the merge waits on no report.
        // The delete's `returning` is the row as committed, so a report that changed it first wins.
        const result = await trx.executeQuery<{ n: number | string }>(
          CompiledQuery.raw(
            `with m as (delete from asset_package_log where (package_id, set_num) in (
               select package_id, set_num from asset_package_log order by package_id, set_num limit $1 for update skip locked)
             returning package_id, set_num, present),
             i as (insert into asset_packages (package_id, set_num)
               select package_id, set_num from m where present = 1 order by package_id, set_num on conflict do nothing),
             d as (delete from asset_packages ap using m where m.present = 0 and ap.package_id = m.package_id and ap.set_num = m.set_num)
             select count(*) as n from m`,
            [limit],
          ),
        );
        return Number(result.rows[0]?.n ?? 0);
      }
      // One writer at a time: the batch is the log's first `limit` pairs, rounded up to a whole package.
      const last = await trx
        .selectFrom("asset_package_log")
        .select("package_id")
        .orderBy("package_id")
        .orderBy("set_num")
        .limit(1)
        .offset(limit - 1)
        .executeTakeFirst();
      const upTo = last?.package_id ?? Number.MAX_SAFE_INTEGER;
      const caps = capabilitiesOf(trx);
      // The log's key order is the index's: the insert walks the index forwards once.
      await trx.executeQuery(
        CompiledQuery.raw(
          caps.insertAbsentRows.replace(
            "{}",
            `asset_packages (package_id, set_num) select package_id, set_num from asset_package_log where package_id <= ${param(caps, 1, "integer")} and present = 1 order by package_id, set_num`,
          ),
          [upTo],
        ),
      );
      await trx.executeQuery(
        CompiledQuery.raw(
          `delete from asset_packages where (package_id, set_num) in (select package_id, set_num from asset_package_log where package_id <= ${param(caps, 1, "integer")} and present = 0)`,
          [upTo],
        ),
      );
      const deleted = await trx
        .deleteFrom("asset_package_log")
        .where("package_id", "<=", upTo)
        .executeTakeFirst();
      return Number(deleted.numDeletedRows);
    },
    { alone: true },
  );
}

/** Merges batches until the log is empty (or the signal aborts). Returns the pairs merged. */
export async function mergePackageLog(store: Store, signal?: AbortSignal): Promise<number> {
  const pending = PENDING.get(store);
  if (pending !== undefined) pending.count = 0;
  let total = 0;
  for (;;) {
    if (signal?.aborted === true) return total;
    const n = await mergeBatch(store);
    total += n;
    if (n < MERGE_BATCH) return total;
  }
}

interface Pending {
  count: number;
  listeners: Set<() => void>;
}

const PENDING = new WeakMap<Store, Pending>();

function pendingOf(store: Store): Pending {
  let p = PENDING.get(store);
  if (p === undefined) {
    p = { count: 0, listeners: new Set() };
    PENDING.set(store, p);
  }
  return p;
}

/** Counts pairs a committed report appended; past MERGE_PENDING the merge is woken. */
export function notePendingPairs(store: Store, pairs: number): void {
  if (pairs <= 0) return;
  const p = pendingOf(store);
  p.count += pairs;
  if (p.count >= MERGE_PENDING) {
    p.count = 0;
    for (const listener of p.listeners) listener();
  }
}

/** Calls `listener` when enough pairs are pending; returns the unsubscribe. */
export function onPendingPairs(store: Store, listener: () => void): () => void {
  const p = pendingOf(store);
  p.listeners.add(listener);
  return () => p.listeners.delete(listener);
}
