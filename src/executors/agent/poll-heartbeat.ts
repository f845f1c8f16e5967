import type { Actor } from "../../domain/roles.js";
import { recordHeartbeat } from "../../inventory/agents.js";
import type { ServiceContext } from "../../service/context.js";
import type { Store } from "../../store/store.js";
import { ownAssetOf } from "./own-asset.js";

// When this process last recorded each asset's sign of life for a poll, by the service clock.
const RECORDED = new WeakMap<Store, Map<string, number>>();
const RECORDED_MAX = 100_000;

/**
 * Records the agent's sign of life as its heartbeat does (last seen, a stale asset active again), at
 * most once per quarter interval per asset in this process: when it answers true, the asset's last
 * seen is at most a quarter interval old. An agent that hears so skips its heartbeats for half an
 * interval, so its last seen stays within three quarters of one, as with heartbeats alone.
 */
export async function recordPollHeartbeat(ctx: ServiceContext, actor: Actor): Promise<boolean> {
  const assetId = ownAssetOf(actor);
  let recorded = RECORDED.get(ctx.store);
  if (!recorded) {
    recorded = new Map();
    RECORDED.set(ctx.store, recorded);
  }
  const now = ctx.now().getTime();
  const last = recorded.get(assetId);
  if (last !== undefined && now >= last && now - last < ctx.config.heartbeatIntervalMs / 4) return true;
  await recordHeartbeat(ctx, actor);
  recorded.delete(assetId);
  recorded.set(assetId, now);
  if (recorded.size > RECORDED_MAX) {
    const oldest = recorded.keys().next();
    if (!oldest.done) recorded.delete(oldest.value);
  }
  return true;
}
