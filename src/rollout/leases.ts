/**
 * Which replica drives a rollout: a lease on its row (owner and expiry), taken by compare-and-set, so
 * two replicas never decide for one rollout at once; another takes over once a lease has expired.
 * The engine's writes check the lease again (fencing) and renew it.
 */
import { appendAudit } from "../audit/log.js";
import { actorLabel, SYSTEM_ACTOR } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { forUpdate } from "../store/locks.js";
import { TERMINAL_ROLLOUT_STATES } from "./model.js";
import { forgetRolloutRows } from "./rollout-rows.js";

/** A lease lasts three passes: one slow pass does not hand the rollout to another replica. */
export function leaseTtlMs(ctx: ServiceContext): number {
  return 3 * Math.max(50, ctx.config.enginePassMs);
}

/**
 * Takes or renews the lease; false when another replica holds it. Renewal writes only once a third of
 * the lease is used, so a fast loop does not write on every pass. A change of owner is audited.
 */
export async function takeLease(ctx: ServiceContext, rolloutId: string, replicaId: string): Promise<boolean> {
  const now = ctx.now();
  const ttl = leaseTtlMs(ctx);
  const peek = await ctx.store.db
    .selectFrom("rollouts")
    .select(["lease_owner", "lease_expires_at", "state"])
    .where("id", "=", rolloutId)
    .executeTakeFirst();
  if (!peek || TERMINAL_ROLLOUT_STATES.includes(peek.state as never)) return false;
  const expires = peek.lease_expires_at === null ? 0 : new Date(peek.lease_expires_at).getTime();
  if (peek.lease_owner === replicaId && expires - now.getTime() > (2 * ttl) / 3) return true;
  if (peek.lease_owner !== null && peek.lease_owner !== replicaId && expires > now.getTime()) return false;
  return ctx.store.write(async (trx) => {
    const row = await trx
      .selectFrom("rollouts")
      .select(["lease_owner", "lease_expires_at"])
      .where("id", "=", rolloutId)
      .$call(forUpdate(trx))
      .executeTakeFirst();
    if (!row) return false;
    const held = row.lease_owner !== null && row.lease_owner !== replicaId;
    if (held && row.lease_expires_at !== null && row.lease_expires_at > now.toISOString()) return false;
    const until = new Date(now.getTime() + ttl).toISOString();
    await trx
      .updateTable("rollouts")
      .set({ lease_owner: replicaId, lease_expires_at: until })
      .where("id", "=", rolloutId)
      .execute();
    if (row.lease_owner !== replicaId) {
      // Another replica may have driven it meanwhile: the first pass under this lease reads everything.
      forgetRolloutRows(ctx.store.db, rolloutId);
      await appendAudit(
        trx,
        {
          actor: actorLabel(SYSTEM_ACTOR),
          action: "rollout.lease.taken",
          targetType: "rollout",
          targetId: rolloutId,
          reason: row.lease_owner === null ? null : `the lease of ${row.lease_owner} expired`,
          data: { owner: replicaId, previous: row.lease_owner, until },
        },
        now,
      );
    }
    return true;
  });
}

/**
 * Hands back every rollout lease this replica holds, on a clean shutdown once its engine pass has
 * ended, so another replica takes the rollouts over at its next pass instead of when the leases
 * expire. Each hand-back is audited in the same write; the next owner's take is audited as usual.
 * Returns the rollouts handed back.
 */
export async function releaseLeases(ctx: ServiceContext, replicaId: string): Promise<string[]> {
  return ctx.store.write(async (trx) => {
    const held = await trx
      .selectFrom("rollouts")
      .select(["id", "lease_expires_at"])
      .where("lease_owner", "=", replicaId)
      .orderBy("id")
      .$call(forUpdate(trx))
      .execute();
    if (held.length === 0) return [];
    const now = ctx.now();
    await trx
      .updateTable("rollouts")
      .set({ lease_owner: null, lease_expires_at: null })
      .where("lease_owner", "=", replicaId)
      .execute();
    for (const row of held) {
      forgetRolloutRows(ctx.store.db, row.id);
      await appendAudit(
        trx,
        {
          actor: actorLabel(SYSTEM_ACTOR),
          action: "rollout.lease.released",
          targetType: "rollout",
          targetId: row.id,
          reason: "the replica shut down",
          data: { owner: replicaId, until: row.lease_expires_at },
        },
        now,
      );
    }
    return held.map((row) => row.id);
  });
}
