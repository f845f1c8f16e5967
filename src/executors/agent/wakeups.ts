import type { Store } from "../../store/store.js";

type Wake = () => void;

/**
 * In-process wake-ups of long-polling agents, per asset: dispatching an operation wakes its asset's
 * waiting poll at once. Keyed by the store, so every context of one process over one store shares
 * them; agents waiting on another replica find the operation by polling the store.
 */
const BY_STORE = new WeakMap<Store, Map<string, Set<Wake>>>();

function waitersOf(store: Store): Map<string, Set<Wake>> {
  let map = BY_STORE.get(store);
  if (!map) {
    map = new Map();
    BY_STORE.set(store, map);
  }
  return map;
}

/** Assets with a poll waiting in this process. */
export function waitingAssets(store: Store): string[] {
  return [...waitersOf(store).keys()];
}

export function wakeAsset(store: Store, assetId: string): void {
  for (const wake of waitersOf(store).get(assetId) ?? []) wake();
}

export interface Waiter {
  /**
   * Resolves on a wake-up, after `ms`, or when the signal aborts, whichever comes first: true when a
   * wake-up ended it (or came before it).
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean>;
  dispose(): void;
}

/**
 * Subscribes before the caller looks in the store, so an operation queued between the look and the
 * wait still wakes it (the wake is remembered until the next wait).
 */
export function subscribe(store: Store, assetId: string): Waiter {
  const map = waitersOf(store);
  let woken = false;
  let release: ((byWake: boolean) => void) | null = null;
  const wake: Wake = () => {
    woken = true;
    release?.(true);
  };
  let set = map.get(assetId);
  if (!set) {
    set = new Set();
    map.set(assetId, set);
  }
  set.add(wake);
  return {
    wait: (ms, signal) =>
      new Promise<boolean>((resolve) => {
        if (woken || signal?.aborted) {
          const byWake = woken;
          woken = false;
          resolve(byWake);
          return;
        }
        const done = (byWake: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", quiet);
          release = null;
          woken = false;
          resolve(byWake);
        };
        const quiet = () => done(false);
        const timer = setTimeout(quiet, Math.max(0, ms));
        signal?.addEventListener("abort", quiet, { once: true });
        release = done;
      }),
    dispose: () => {
      set.delete(wake);
      if (set.size === 0 && map.get(assetId) === set) map.delete(assetId);
      release?.(false);
    },
  };
}
