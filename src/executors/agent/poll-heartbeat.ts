import type { Kysely } from "kysely";
import type { AuditInput } from "../../audit/event.js";
import type { Actor } from "../../domain/roles.js";
import { markAgentSeen, recordSignOfLife } from "../../inventory/agents.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database } from "../../store/schema.js";
import type { Store } from "../../store/store.js";
import { ownAssetOf } from "./own-asset.js";

// When this process last recorded each asset's sign of life for a poll, by the service clock.
const RECORDED = new WeakMap<Store, Map<string, number>>();
const RECORDED_MAX = 100_000;

function recordedOf(store: Store): Map<string, number> {
  let recorded = RECORDED.get(store);
  if (!recorded) {
    recorded = new Map();
    RECORDED.set(store, recorded);
  }
  return recorded;
}

/** True when this process recorded the asset's sign of life less than a quarter interval ago. */
function recentlyRecorded(ctx: ServiceContext, assetId: string, now: number): boolean {
  const last = recordedOf(ctx.store).get(assetId);
  return last !== undefined && now >= last && now - last < ctx.config.heartbeatIntervalMs / 4;
}

function markRecorded(ctx: ServiceContext, assetId: string, now: number): void {
  const recorded = recordedOf(ctx.store);
  recorded.delete(assetId);
  recorded.set(assetId, now);
  if (recorded.size > RECORDED_MAX) {
    const oldest = recorded.keys().next();
    if (!oldest.done) recorded.delete(oldest.value);
  }
}

/**
 * Inside a poll's own write (the lease): the sign of life a heartbeat records (last seen, a stale
 * asset active again with the same audit event), when it is due. Returns what to call once the write
 * committed (null when it was not due), so that a poll that leased an operation costs no write more.
 */
export async function signOfLifeInWrite(
  ctx: ServiceContext,
  trx: Kysely<Database>,
  actor: Actor,
  assetId: string,
  now: Date,
  /** The write's events, which the caller appends at once (a stale asset's return is one). */
  events: AuditInput[],
): Promise<(() => void) | null> {
  if (recentlyRecorded(ctx, assetId, now.getTime())) return null;
  if (!(await markAgentSeen(trx, actor, assetId, now, events))) return null;
  return () => markRecorded(ctx, assetId, now.getTime());
}

/**
 * Records the agent's sign of life for a poll's answer as its heartbeat does, at most once per quarter
 * interval per asset in this process (the lease's write may have done it already): when it answers
 * true, the asset's last seen is at most a quarter interval old. An agent that hears so skips its
 * heartbeats for three quarters of an interval, so its last seen stays within one, as with
 * heartbeats alone.
 */
export async function recordPollHeartbeat(ctx: ServiceContext, actor: Actor): Promise<boolean> {
  const assetId = ownAssetOf(actor);
  const now = ctx.now().getTime();
  if (recentlyRecorded(ctx, assetId, now)) return true;
  await recordSignOfLife(ctx, actor, new Date(now));
  markRecorded(ctx, assetId, now);
  return true;
}
