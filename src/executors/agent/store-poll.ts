import type { Store } from "../../store/store.js";
import { waitingAssets, wakeAsset } from "./wakeups.js";

interface Poller {
  users: number;
  timer: NodeJS.Timeout | null;
  busy: boolean;
}

const BY_STORE = new WeakMap<Store, Poller>();

/**
 * One look in the store per interval for all the polls waiting in this process, instead of one per
 * poll: it finds operations another replica queued and wakes those assets' polls. Idle agents then
 * cost one query a second whatever the fleet's size. `lookup` returns the asset ids that have
 * something to lease; it runs only while some poll holds the returned release.
 */
export function shareStorePoll(
  store: Store,
  intervalMs: number,
  lookup: (assetIds: readonly string[]) => Promise<readonly string[]>,
): () => void {
  let poller = BY_STORE.get(store);
  if (!poller) {
    poller = { users: 0, timer: null, busy: false };
    BY_STORE.set(store, poller);
  }
  const p = poller;
  p.users += 1;
  if (p.timer === null) {
    p.timer = setInterval(() => {
      const waiting = waitingAssets(store);
      if (p.busy || waiting.length === 0) return;
      p.busy = true;
      lookup(waiting)
        .then((due) => {
          for (const assetId of due) wakeAsset(store, assetId);
        })
        // A failed look is tried again at the next interval; each poll still ends at its deadline.
        .catch(() => undefined)
        .finally(() => {
          p.busy = false;
        });
    }, intervalMs);
    p.timer.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    p.users -= 1;
    if (p.users === 0 && p.timer !== null) {
      clearInterval(p.timer);
      p.timer = null;
    }
  };
}
