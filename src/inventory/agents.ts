import { appendAudit } from "../audit/log.js";
import { AuthError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { requireOneVersionPerPackage } from "./one-version.js";
import { type ReportSummary, replaceInventory } from "./report.js";

/** An agent credential acts for its own asset only. */
function ownAssetId(actor: Actor): string {
  if (actor.kind !== "agent" || !actor.assetId)
    throw new AuthError("forbidden", "only an agent credential may use the agent protocol");
  return actor.assetId;
}

export async function recordHeartbeat(
  ctx: ServiceContext,
  actor: Actor,
): Promise<{ heartbeatIntervalMs: number; inventoryWanted: boolean }> {
  const assetId = ownAssetId(actor);
  const now = ctx.now();
  const inventoryWanted = await ctx.store.write(async (trx) => {
    const asset = await trx
      .selectFrom("assets")
      .select(["id", "name", "agent_status"])
      .where("id", "=", assetId)
      .executeTakeFirst();
    if (!asset) throw new AuthError("unauthenticated", "the asset of this agent credential was deleted");
    await trx
      .updateTable("assets")
      .set({ last_seen_at: now.toISOString(), agent_status: "active" })
      .where("id", "=", assetId)
      .execute();
    if (asset.agent_status === "stale") {
      await appendAudit(
        trx,
        {
          actor: actorLabel(actor),
          action: "asset.agent-active",
          targetType: "asset",
          targetId: assetId,
          data: { asset: asset.name },
        },
        now,
      );
    }
    const report = await trx
      .selectFrom("inventory_reports")
      .select("id")
      .where("asset_id", "=", assetId)
      .limit(1)
      .executeTakeFirst();
    return report === undefined;
  });
  return { heartbeatIntervalMs: ctx.config.heartbeatIntervalMs, inventoryWanted };
}

export async function recordAgentInventory(
  ctx: ServiceContext,
  actor: Actor,
  packages: readonly PackageRecord[],
): Promise<ReportSummary> {
  const assetId = ownAssetId(actor);
  requireOneVersionPerPackage(packages, (i) => `/packages/${i}/version`);
  const now = ctx.now();
  return ctx.store.write(async (trx) => {
    const asset = await trx
      .selectFrom("assets")
      .select(["id", "name", "agent_status"])
      .where("id", "=", assetId)
      .executeTakeFirst();
    if (!asset) throw new AuthError("unauthenticated", "the asset of this agent credential was deleted");
    if (asset.agent_status !== "active") {
      await trx.updateTable("assets").set({ agent_status: "active" }).where("id", "=", assetId).execute();
    }
    // No allowEmpty for agents: a host's dpkg database is never empty, so an empty read is a fault
    // on the host (a wrong root, a failed mount) and must not wipe what the server knows.
    return replaceInventory(trx, actor, asset, packages, "agent", now, { where: "/packages" });
  });
}

/**
 * Marks assets whose agent missed `staleAfterMissed` heartbeats as stale. Safe on every replica at
 * once: the update is conditional, so each asset is marked (and audited) once.
 */
export async function markStaleAssets(ctx: ServiceContext, actor: Actor): Promise<string[]> {
  const now = ctx.now();
  const cutoff = new Date(
    now.getTime() - ctx.config.heartbeatIntervalMs * ctx.config.staleAfterMissed,
  ).toISOString();
  return ctx.store.write(async (trx) => {
    const stale = await trx
      .selectFrom("assets")
      .select(["id", "name", "last_seen_at"])
      .where("agent_status", "=", "active")
      .where("last_seen_at", "<", cutoff)
      .execute();
    const marked: string[] = [];
    for (const asset of stale) {
      const res = await trx
        .updateTable("assets")
        .set({ agent_status: "stale" })
        .where("id", "=", asset.id)
        .where("agent_status", "=", "active")
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) continue;
      marked.push(asset.name);
      await appendAudit(
        trx,
        {
          actor: actorLabel(actor),
          action: "asset.agent-stale",
          targetType: "asset",
          targetId: asset.id,
          data: {
            asset: asset.name,
            lastSeen: asset.last_seen_at,
            missedHeartbeats: ctx.config.staleAfterMissed,
          },
        },
        now,
      );
    }
    return marked;
  });
}
