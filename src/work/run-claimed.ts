import { backoffDelayMs } from "../domain/backoff.js";
import type { ServiceContext } from "../service/context.js";
import { lockSkippingLocked } from "../store/locks.js";
import type { WorkRow } from "./claim.js";
import type { WorkItem, WorkKind } from "./work-kind.js";

/** Retry delays of failed work: full jitter up to 2 s doubling, capped at 15 minutes. */
export const WORK_BACKOFF_BASE_MS = 2_000;
export const WORK_BACKOFF_CAP_MS = 15 * 60 * 1000;
/** Never at once: a drain that just saw an item fail does not claim it again. */
const WORK_BACKOFF_MIN_MS = 250;
const ERROR_KEPT = 2000;

export interface RunOutcome {
  /** Items whose work committed (and which are gone from the queue). */
  done: string[];
  /** Claimed items this run could not lock: another transaction holds them; their lease is released. */
  skipped: string[];
}

/**
 * Does claimed items' work in one write: locks the rows still leased to `owner` (skipping any
 * another transaction holds), runs the kind on them, and deletes them in the same transaction. A
 * throw rolls all of it back and leaves the items owed.
 */
export async function runClaimed<P>(
  ctx: ServiceContext,
  kind: WorkKind<P>,
  owner: string,
  rows: readonly WorkRow[],
  now: Date,
): Promise<RunOutcome> {
  const ids = rows.map((r) => r.id);
  const done = await ctx.store.write(async (trx) => {
    // Locked for the whole run: a claimer on another replica skips them even once the lease ends.
    const held = await lockSkippingLocked(
      trx,
      trx
        .selectFrom("work_items")
        .selectAll()
        .where("id", "in", ids)
        .where("kind", "=", kind.name)
        .where("lease_owner", "=", owner)
        .orderBy("id"),
    ).execute();
    if (held.length === 0) return [];
    const items: WorkItem<P>[] = held.map((r) => ({
      id: r.id,
      key: r.key,
      payload: kind.parse(JSON.parse(r.payload)),
      attempts: Number(r.attempts),
    }));
    await kind.run(trx, items, ctx, now);
    const doneIds = held.map((r) => r.id);
    await trx.deleteFrom("work_items").where("id", "in", doneIds).execute();
    return doneIds;
  });
  const finished = new Set(done);
  const skipped = ids.filter((id) => !finished.has(id));
  // An item held elsewhere (a commit owing it again) is due again as soon as that commit ends.
  if (skipped.length > 0) await releaseLeases(ctx, skipped, owner);
  return { done, skipped };
}

async function releaseLeases(ctx: ServiceContext, ids: readonly string[], owner: string): Promise<void> {
  await ctx.store.write((trx) =>
    trx
      .updateTable("work_items")
      .set({ lease_owner: null, lease_expires_at: null })
      .where("id", "in", ids)
      .where("lease_owner", "=", owner)
      .execute(),
  );
}

/** Records a failed run of these items: one more attempt, the error, and a later time to retry. */
export async function recordFailure(
  ctx: ServiceContext,
  rows: readonly WorkRow[],
  owner: string,
  error: unknown,
  now: Date,
  random: () => number = Math.random,
): Promise<void> {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, ERROR_KEPT);
  await ctx.store.write(async (trx) => {
    for (const row of rows) {
      const attempts = Number(row.attempts) + 1;
      const delay = Math.max(
        WORK_BACKOFF_MIN_MS,
        backoffDelayMs(attempts, random, WORK_BACKOFF_BASE_MS, WORK_BACKOFF_CAP_MS),
      );
      await trx
        .updateTable("work_items")
        .set({
          attempts,
          last_error: message,
          next_attempt_at: new Date(now.getTime() + delay).toISOString(),
          lease_owner: null,
          lease_expires_at: null,
        })
        .where("id", "=", row.id)
        .where("lease_owner", "=", owner)
        .execute();
    }
  });
}
