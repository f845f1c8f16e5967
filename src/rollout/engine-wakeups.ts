import type { Store } from "../store/store.js";

type Listener = () => void;

/**
 * In-process wake-ups of the rollout engine: a host's result (or anything else the engine acts on)
 * asks for a pass now instead of at the next tick. Keyed by the store, like the agents' wake-ups;
 * another replica's engine finds the stored result on its own next pass.
 */
const BY_STORE = new WeakMap<Store, Set<Listener>>();

export function onEngineWake(store: Store, listener: Listener): () => void {
  let set = BY_STORE.get(store);
  if (!set) {
    set = new Set();
    BY_STORE.set(store, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

export function wakeEngine(store: Store): void {
  for (const listener of BY_STORE.get(store) ?? []) listener();
}
