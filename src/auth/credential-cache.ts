import type { Actor } from "../domain/roles.js";
import type { Store } from "../store/store.js";

/**
 * How long an authenticated credential is taken on trust without reading the store again. A revocation
 * or a disabled principal takes effect at once on the replica that wrote it (it forgets every
 * credential after its commit); another replica, or an offline CLI, is heard within this time.
 */
export const CREDENTIAL_TTL_MS = 5000;

/** Credentials remembered per store; past this the oldest go first. */
const MAX_CREDENTIALS = 20_000;

interface Remembered {
  actor: Actor;
  /** The token's last-used time as stored (ms, the service clock): the lookup writes it when it is old. */
  lastUsedMs: number;
  expiresAt: number;
}

interface Cache {
  /** Moves with every forget: a lookup that began before it must not store what it read. */
  generation: number;
  byHash: Map<string, Remembered>;
}

const BY_STORE = new WeakMap<Store, Cache>();

function cacheOf(store: Store): Cache {
  let cache = BY_STORE.get(store);
  if (!cache) {
    cache = { generation: 0, byHash: new Map() };
    BY_STORE.set(store, cache);
  }
  return cache;
}

/** What a credential (by its hash) resolved to within the TTL, if anything. */
export function rememberedCredential(
  store: Store,
  hash: string,
  nowMs = Date.now(),
): { actor: Actor; lastUsedMs: number } | null {
  const cache = cacheOf(store);
  const known = cache.byHash.get(hash);
  if (!known) return null;
  if (known.expiresAt <= nowMs) {
    cache.byHash.delete(hash);
    return null;
  }
  return { actor: known.actor, lastUsedMs: known.lastUsedMs };
}

/** Where a lookup stands: pass it to `rememberCredential` so that a forget in between wins. */
export function credentialGeneration(store: Store): number {
  return cacheOf(store).generation;
}

export function rememberCredential(
  store: Store,
  hash: string,
  actor: Actor,
  lastUsedMs: number,
  generation: number,
  nowMs = Date.now(),
): void {
  const cache = cacheOf(store);
  if (cache.generation !== generation) return;
  cache.byHash.delete(hash);
  cache.byHash.set(hash, { actor, lastUsedMs, expiresAt: nowMs + CREDENTIAL_TTL_MS });
  if (cache.byHash.size > MAX_CREDENTIALS) {
    const oldest = cache.byHash.keys().next();
    if (!oldest.done) cache.byHash.delete(oldest.value);
  }
}

/** After a commit that revokes a token or disables a principal: every credential is looked up again. */
export function forgetCredentials(store: Store): void {
  const cache = cacheOf(store);
  cache.generation += 1;
  cache.byHash.clear();
}
