import type { Store } from "../store/store.js";

/**
 * A one-replica loop's lease: one row per loop name with its owner and expiry, changed only by
 * compare-and-set, so at most one replica holds a loop's lease at any time. Leases coordinate
 * replicas and change no domain state, so they write no audit events (as work and outbox claims).
 *
 * Expiries are compared on each replica's own clock: leases must be long against the clock skew
 * between replicas (NTP keeps it to milliseconds).
 */
export interface LeaseRequest {
  name: string;
  owner: string;
  now: Date;
  until: Date;
}

/**
 * Takes the lease, or extends it when `owner` holds it already; false when another replica holds
 * it and its lease has not expired. Two replicas racing for a free or expired lease: one wins.
 */
export async function acquireLease(store: Store, request: LeaseRequest): Promise<boolean> {
  const { name, owner } = request;
  const now = request.now.toISOString();
  const until = request.until.toISOString();
  return store.write(async (trx) => {
    // The condition is checked again on the locked row, so a concurrent taker that committed first wins.
    const taken = await trx
      .updateTable("scheduler_leases")
      .set((eb) => ({
        owner,
        expires_at: until,
        acquired_at: eb.case().when("owner", "=", owner).then(eb.ref("acquired_at")).else(now).end(),
        updated_at: now,
      }))
      .where("name", "=", name)
      .where((eb) => eb.or([eb("owner", "=", owner), eb("expires_at", "<=", now)]))
      .returning("name")
      .executeTakeFirst();
    if (taken) return true;
    const inserted = await trx
      .insertInto("scheduler_leases")
      .values({ name, owner, expires_at: until, acquired_at: now, updated_at: now })
      .onConflict((oc) => oc.column("name").doNothing())
      .returning("name")
      .executeTakeFirst();
    return inserted !== undefined;
  });
}

/** Extends a lease `owner` still holds; false when another replica has taken it meanwhile. */
export async function renewLease(store: Store, request: LeaseRequest): Promise<boolean> {
  return store.write(async (trx) => {
    const renewed = await trx
      .updateTable("scheduler_leases")
      .set({ expires_at: request.until.toISOString(), updated_at: request.now.toISOString() })
      .where("name", "=", request.name)
      .where("owner", "=", request.owner)
      .returning("name")
      .executeTakeFirst();
    return renewed !== undefined;
  });
}

/** Gives up the leases `owner` holds on these loops, so another replica takes them over at once. */
export async function releaseLeases(store: Store, owner: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await store.write(async (trx) => {
    await trx
      .deleteFrom("scheduler_leases")
      .where("owner", "=", owner)
      .where("name", "in", [...names])
      .execute();
  });
}

/** Who holds each loop's lease, for operators and tests. */
export async function listLeases(
  store: Store,
): Promise<{ name: string; owner: string; expiresAt: string; acquiredAt: string }[]> {
  const rows = await store.db.selectFrom("scheduler_leases").selectAll().orderBy("name").execute();
  return rows.map((r) => ({
    name: r.name,
    owner: r.owner,
    expiresAt: r.expires_at,
    acquiredAt: r.acquired_at,
  }));
}
