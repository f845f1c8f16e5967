import type { Store } from "../store/store.js";

/**
 * Tokens' last-used times, written in batches. The time is shown at a one-minute resolution ("LAST
 * USED 3m") and is not a security record (the audit log is), yet written at once it cost the first
 * request of every agent in every minute a transaction and a commit of its own: on PostgreSQL, a WAL
 * flush per agent per minute. Uses are gathered for a moment and written in one transaction; a crash
 * loses at most that moment's times, and `flushTokenUses` writes them on a clean shutdown.
 */
export const TOKEN_USE_FLUSH_MS = 1_000;

interface Pending {
  readonly times: Map<string, string>;
  timer: NodeJS.Timeout | null;
  flushing: Promise<void>;
}

const BY_STORE = new WeakMap<Store, Pending>();

/** Records that token `id` was used at `at` (ISO time); written within TOKEN_USE_FLUSH_MS. */
export function noteTokenUse(store: Store, id: string, at: string): void {
  let pending = BY_STORE.get(store);
  if (pending === undefined) {
    pending = { times: new Map(), timer: null, flushing: Promise.resolve() };
    BY_STORE.set(store, pending);
  }
  pending.times.set(id, at);
  if (pending.timer === null) {
    // A pending time never keeps a process alive: it is telemetry, not state.
    pending.timer = setTimeout(() => void flushTokenUses(store), TOKEN_USE_FLUSH_MS).unref();
  }
}

/** Writes the gathered last-used times now; failures (a store closing under it) drop them. */
export function flushTokenUses(store: Store): Promise<void> {
  const pending = BY_STORE.get(store);
  if (pending === undefined) return Promise.resolve();
  if (pending.timer !== null) clearTimeout(pending.timer);
  pending.timer = null;
  const batch = [...pending.times];
  pending.times.clear();
  pending.flushing = pending.flushing.then(async () => {
    if (batch.length === 0) return;
    try {
      await store.write(async (trx) => {
        for (const [id, at] of batch) {
          await trx.updateTable("api_tokens").set({ last_used_at: at }).where("id", "=", id).execute();
        }
      });
    } catch {
      // Only a time shown to operators is lost; the next use records it again.
    }
  });
  return pending.flushing;
}
