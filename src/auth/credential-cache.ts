import type { Actor } from "../domain/roles.js";
import type { Store } from "../store/store.js";

/**
 * How stale a remembered credential's answer may be. A revocation or a disabled principal takes
 * effect at once on the replica that wrote it (it forgets every credential after its commit); any
 * other writer (another replica, an offline CLI, a hand-made fix) moves the store's credential
 * version (migration 0022), which each replica reads at most this often: when it moved, every
 * credential is looked up again. A credential checked once is then trusted for as long as the version
 * stands still, not for a few seconds: agents report less often than that.
 */
export const CREDENTIAL_TTL_MS = 5000;

/** Credentials remembered per store; past this the oldest go first. */
const MAX_CREDENTIALS = 20_000;

interface Remembered {
  actor: Actor;
  /** The token's last-used time as stored (ms, the service clock): the lookup writes it when it is old. */
  lastUsedMs: number;
}

interface Cache {
  /** Moves with every forget: a lookup that began before it must not store what it read. */
  generation: number;
  byHash: Map<string, Remembered>;
  /** The credential version as last read, and when that read began (ms). */
  version: string | null;
  checkedAt: number;
  /** The read in flight: requests that arrive meanwhile wait for the same one. */
  checking: Promise<void> | null;
}

const BY_STORE = new WeakMap<Store, Cache>();

function cacheOf(store: Store): Cache {
  let cache = BY_STORE.get(store);
  if (!cache) {
    cache = {
      generation: 0,
      byHash: new Map(),
      version: null,
      checkedAt: Number.NEGATIVE_INFINITY,
      checking: null,
    };
    BY_STORE.set(store, cache);
  }
  return cache;
}

/** Whether the credential version was read within the TTL: remembered answers may be used as they are. */
export function credentialsChecked(store: Store, nowMs = Date.now()): boolean {
  return nowMs - cacheOf(store).checkedAt < CREDENTIAL_TTL_MS;
}

/**
 * Reads the store's credential version (`read`); when it is not the one last read, every credential is
 * forgotten. Concurrent callers share one read.
 */
export function checkCredentials(
  store: Store,
  read: () => Promise<string>,
  nowMs = Date.now(),
): Promise<void> {
  const cache = cacheOf(store);
  if (cache.checking !== null) return cache.checking;
  const checking = read()
    .then((version) => {
      if (version !== cache.version) {
        forgetCredentials(store);
        cache.version = version;
      }
      cache.checkedAt = Math.max(cache.checkedAt, nowMs);
    })
    .finally(() => {
      cache.checking = null;
    });
  cache.checking = checking;
  return checking;
}

/** What a credential (by its hash) resolved to, if it is remembered. */
export function rememberedCredential(
  store: Store,
  hash: string,
): { actor: Actor; lastUsedMs: number } | null {
  return cacheOf(store).byHash.get(hash) ?? null;
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
): void {
  const cache = cacheOf(store);
  // A lookup that began before any version was read could predate a revocation the first read shows.
  if (cache.generation !== generation || cache.version === null) return;
  cache.byHash.delete(hash);
  cache.byHash.set(hash, { actor, lastUsedMs });
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
