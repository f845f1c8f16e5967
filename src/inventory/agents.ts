import { CompiledQuery, type Kysely } from "kysely";
import type { AuditInput } from "../audit/event.js";
import { appendAudit } from "../audit/log.js";
import { AuthError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { capabilitiesOf } from "../store/capabilities.js";
import type { Database } from "../store/schema.js";
import { preparedQuery } from "../store/statement-cache.js";
import { applyInventoryDelta, type InventoryDelta } from "./delta.js";
import { requireOneVersionPerPackage } from "./one-version.js";
import { packageDictionary } from "./package-dictionary.js";
import { notePendingPairs } from "./package-log.js";
import { type ReportSummary, replaceInventory, type StoredSet, toStoredSet } from "./report.js";

/**
 * The agent's sign of life, in the caller's write: the asset seen now and active, and a stale one's
 * return audited. False when the asset is gone.
 */
export async function markAgentSeen(
  trx: Kysely<Database>,
  actor: Actor,
  assetId: string,
  now: Date,
  /** Where the caller collects its write's events to append them at once; appended here when absent. */
  events?: AuditInput[],
): Promise<boolean> {
  const at = now.toISOString();
  // Nearly always the asset is active already: one statement, nothing to audit.
  if (Number((await seenActive(trx, at, assetId)).numAffectedRows ?? 0n) === 1) return true;
  const [asset] = (await seenWithStatus(trx, at, assetId)).rows;
  if (!asset) return false;
  await markAgentActive(trx, actor, asset, now, events);
  return true;
}

/**
 * After the caller's update of the asset row (which holds the row's lock until commit), `agent_status`
 * as that update returned it: an asset not active is made so, and a stale one's return is audited. A
 * concurrent sign of life waited on the lock and its update returned "active", so the event is
 * written once however many requests the agent has in flight. With `events`, the event is added there
 * for the caller to append with its write's others.
 */
async function markAgentActive(
  trx: Kysely<Database>,
  actor: Actor,
  asset: { id: string; name: string; agent_status: string },
  now: Date,
  events?: AuditInput[],
): Promise<void> {
  if (asset.agent_status === "active") return;
  await trx.updateTable("assets").set({ agent_status: "active" }).where("id", "=", asset.id).execute();
  if (asset.agent_status !== "stale") return;
  const event: AuditInput = {
    actor: actorLabel(actor),
    action: "asset.agent-active",
    targetType: "asset",
    targetId: asset.id,
    data: { asset: asset.name },
  };
  if (events) events.push(event);
  else await appendAudit(trx, event, now);
}

// Every heartbeat and lease runs these: compiled once (see preparedQuery).
const seenActive = preparedQuery((db, at: string, id: string) =>
  db
    .updateTable("assets")
    .set({ last_seen_at: at })
    .where("id", "=", id)
    .where("agent_status", "=", "active"),
);
const seenWithStatus = preparedQuery((db, at: string, id: string) =>
  db
    .updateTable("assets")
    .set({ last_seen_at: at })
    .where("id", "=", id)
    .returning(["id", "name", "agent_status"]),
);
const setDigest = preparedQuery((db, assetId: string) =>
  db.selectFrom("package_sets").select("digest").where("asset_id", "=", assetId),
);
const anyReport = preparedQuery((db, assetId: string) =>
  db.selectFrom("inventory_reports").select("id").where("asset_id", "=", assetId).limit(1),
);

/** An agent credential acts for its own asset only. */
function ownAssetId(actor: Actor): string {
  if (actor.kind !== "agent" || !actor.assetId)
    throw new AuthError("forbidden", "only an agent credential may use the agent protocol");
  return actor.assetId;
}

/** The refusal of an agent whose asset was deleted while its credential still stood. */
function assetDeleted(): AuthError {
  return new AuthError("unauthenticated", "the asset of this agent credential was deleted");
}

/**
 * The sign of life alone, for a long-poll's answer that stands for a heartbeat: a poll carries no
 * package digest, so there is no inventory to ask for.
 */
export async function recordSignOfLife(ctx: ServiceContext, actor: Actor, now: Date): Promise<void> {
  const assetId = ownAssetId(actor);
  const seen = await ctx.store.write((trx) => markAgentSeen(trx, actor, assetId, now));
  if (!seen) throw assetDeleted();
}

export async function recordHeartbeat(
  ctx: ServiceContext,
  actor: Actor,
  /** The digest of the agent's package set: a full report is wanted when it is not the stored one's. */
  packagesDigest?: string,
): Promise<{ heartbeatIntervalMs: number; inventoryWanted: boolean }> {
  const assetId = ownAssetId(actor);
  const now = ctx.now();
  const inventoryWanted = await ctx.store.write(async (trx) => {
    if (!(await markAgentSeen(trx, actor, assetId, now))) throw assetDeleted();
    if ((await anyReport(trx, assetId)).rows.length === 0) return true;
    if (packagesDigest === undefined) return false;
    // The digest alone: the set's ids are not read (nor parsed) for a heartbeat.
    return (await setDigest(trx, assetId)).rows[0]?.digest !== packagesDigest;
  });
  return { heartbeatIntervalMs: ctx.config.heartbeatIntervalMs, inventoryWanted };
}

/** The pairs a report appended to the index's log: a changed version removes one and adds one. */
const pairsWritten = (s: ReportSummary): number => s.added + s.removed + 2 * s.changed;

export async function recordAgentInventory(
  ctx: ServiceContext,
  actor: Actor,
  packages: readonly PackageRecord[],
): Promise<ReportSummary> {
  const assetId = ownAssetId(actor);
  requireOneVersionPerPackage(packages, (i) => `/packages/${i}/version`);
  const now = ctx.now();
  const dictionary = packageDictionary(ctx.store.db).session();
  const summary = await ctx.store.write(async (trx) => {
    const { asset, stored } = await agentAsset(trx, actor, assetId, now);
    // No allowEmpty for agents: a host's dpkg database is never empty, so an empty read is a fault
    // on the host (a wrong root, a failed mount) and must not wipe what the server knows.
    return replaceInventory(trx, actor, asset, packages, "agent", now, {
      where: "/packages",
      dictionary,
      seenWritten: true,
      stored,
      oneVersionChecked: true,
    });
  });
  dictionary.commit();
  notePendingPairs(ctx.store, pairsWritten(summary));
  return summary;
}

/**
 * The reporting agent's asset, seen now, with its stored package set: one statement where the database
 * takes writes inside WITH (each statement is a round trip on PostgreSQL), one more when the asset was
 * not active (a stale one's return audited, as for a heartbeat). The set
 * is read with a row lock, so a concurrent report of the same asset that changed it is waited for and
 * its committed set is the one read, as when the set was read after the asset row's lock. The whole
 * report rolls back if refused.
 */
async function agentAsset(
  trx: Kysely<Database>,
  actor: Actor,
  assetId: string,
  now: Date,
): Promise<{ asset: { id: string; name: string }; stored: StoredSet | null }> {
  if (capabilitiesOf(trx).writableCte) {
    const result = await trx.executeQuery<{
      id: string;
      name: string;
      agent_status: string;
      num: number | null;
      package_ids: string | null;
      digest: string | null;
      total: number | null;
    }>(
      CompiledQuery.raw(
        `with a as (update assets set last_seen_at = $1 where id = $2 returning id, name, agent_status)
        select a.id, a.name, a.agent_status, ps.num, ps.package_ids, ps.digest, ps.total from a left join lateral
          (select num, package_ids, digest, total from package_sets where asset_id = a.id for update) ps on true`,
        [now.toISOString(), assetId],
      ),
    );
    const row = result.rows[0];
    if (row === undefined) throw assetDeleted();
    await markAgentActive(trx, actor, row, now);
    const { num, package_ids, digest, total } = row;
    const stored =
      num === null || package_ids === null || digest === null || total === null
        ? null
        : toStoredSet({ num, package_ids, digest, total });
    return { asset: { id: row.id, name: row.name }, stored };
  }
  // SQLite (positional parameters), raw: building and compiling these with Kysely cost more than
  // running them.
  const seen = await trx.executeQuery<{ id: string; name: string; agent_status: string }>(
    CompiledQuery.raw("update assets set last_seen_at = ? where id = ? returning id, name, agent_status", [
      now.toISOString(),
      assetId,
    ]),
  );
  const asset = seen.rows[0];
  if (asset === undefined) throw assetDeleted();
  await markAgentActive(trx, actor, asset, now);
  const set = await trx.executeQuery<{ num: number; package_ids: string; digest: string; total: number }>(
    CompiledQuery.raw("select num, package_ids, digest, total from package_sets where asset_id = ?", [
      assetId,
    ]),
  );
  const row = set.rows[0];
  return { asset: { id: asset.id, name: asset.name }, stored: row === undefined ? null : toStoredSet(row) };
}

export type { InventoryDelta } from "./delta.js";

/**
 * A delta report: the changes since the set the server acknowledged. Refused (409, the agent then sends
 * a full report) when the stored set is not that set, or when the result is not the set the agent has.
 */
export async function recordAgentInventoryDelta(
  ctx: ServiceContext,
  actor: Actor,
  delta: InventoryDelta,
): Promise<ReportSummary> {
  const assetId = ownAssetId(actor);
  requireOneVersionPerPackage(delta.added, (i) => `/added/${i}/version`);
  const now = ctx.now();
  const dictionary = packageDictionary(ctx.store.db).session();
  const summary = await ctx.store.write(async (trx) => {
    dictionary.reset();
    const { asset, stored } = await agentAsset(trx, actor, assetId, now);
    return applyInventoryDelta(trx, actor, asset, stored, delta, now, dictionary);
  });
  dictionary.commit();
  notePendingPairs(ctx.store, pairsWritten(summary));
  return summary;
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
