import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { rematchAsset } from "../advisories/findings/rematch.js";
import { appendAudit } from "../audit/log.js";
import { reasonError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { inChunks } from "../store/chunks.js";
import type { Database, InstalledPackagesTable } from "../store/schema.js";

export interface PackageChange {
  ecosystem: string;
  name: string;
  arch: string;
  from: string | null;
  to: string | null;
}

export interface ReportSummary {
  total: number;
  added: number;
  removed: number;
  changed: number;
  /** True when the report equals what was stored: nothing was written but the asset's last-seen time. */
  unchanged: boolean;
}

/** How many changes an audit event and a report row keep in full; the counts are always exact. */
const CHANGES_KEPT = 200;

const identity = (p: { ecosystem: string; name: string; arch: string }) =>
  `${p.ecosystem}\u0000${p.name}\u0000${p.arch}`;
const rowKey = (p: { ecosystem: string; name: string; arch: string; version: string }) =>
  `${identity(p)}\u0000${p.version}`;

function toRow(assetId: string, p: PackageRecord): InstalledPackagesTable {
  return {
    asset_id: assetId,
    ecosystem: p.ecosystem,
    name: p.name,
    version: p.version,
    arch: p.arch ?? "",
    // Always filled, so one index on (ecosystem, source_name) finds packages by the name advisories use.
    source_name: p.sourceName ?? p.name,
    source_version: p.sourceVersion ?? p.version,
    purl: p.purl ?? null,
  };
}

export interface ReplaceOptions {
  /** Lets a report with no packages replace a non-empty inventory (refused otherwise). */
  allowEmpty?: boolean;
  /** Where the packages came from, for the refusal: `/packages`, a file name. */
  where?: string;
}

/**
 * Replaces an asset's package set with a report, inside the caller's transaction: only the difference
 * is written, and what changed is recorded as an inventory report and an audit event.
 */
export async function replaceInventory(
  trx: Kysely<Database>,
  actor: Actor,
  asset: { id: string; name: string },
  packages: readonly PackageRecord[],
  source: "agent" | "import",
  now: Date,
  options: ReplaceOptions = {},
): Promise<ReportSummary> {
  const incoming = new Map<string, InstalledPackagesTable>();
  for (const p of packages) {
    const row = toRow(asset.id, p);
    incoming.set(rowKey(row), row);
  }
  const stored = await trx
    .selectFrom("installed_packages")
    .selectAll()
    .where("asset_id", "=", asset.id)
    .execute();
  // An empty package database (a broken mount, a truncated status file) reads as "everything was
  // removed": that would mark every finding fixed, so it takes an explicit allowEmpty.
  if (incoming.size === 0 && stored.length > 0 && options.allowEmpty !== true) {
    throw reasonError(
      "inventory.would-empty",
      `the report lists no packages and would remove all ${stored.length} packages of ${asset.name}; ` +
        "pass allowEmpty (CLI: --allow-empty) if the asset really has none",
      { where: options.where ?? "/packages", details: { asset: asset.name, stored: stored.length } },
    );
  }
  const storedByKey = new Map(stored.map((r) => [rowKey(r), r]));

  const toInsert = [...incoming.entries()].filter(([k]) => !storedByKey.has(k)).map(([, r]) => r);
  const toDelete = [...storedByKey.entries()].filter(([k]) => !incoming.has(k)).map(([, r]) => r);
  const metadataChanged = [...incoming.entries()].filter(([k, r]) => {
    const old = storedByKey.get(k);
    return (
      old !== undefined &&
      (old.source_name !== r.source_name || old.source_version !== r.source_version || old.purl !== r.purl)
    );
  });

  const at = now.toISOString();
  await trx.updateTable("assets").set({ last_seen_at: at }).where("id", "=", asset.id).execute();
  if (toInsert.length === 0 && toDelete.length === 0 && metadataChanged.length === 0) {
    return { total: incoming.size, added: 0, removed: 0, changed: 0, unchanged: true };
  }

  // One statement per removed row, by its whole primary key: a row-value list per statement would
  // leave PostgreSQL to pick a plan by (often stale) statistics, and a scan per chunk costs far more.
  for (const r of toDelete) {
    await trx
      .deleteFrom("installed_packages")
      .where("asset_id", "=", asset.id)
      .where("ecosystem", "=", r.ecosystem)
      .where("name", "=", r.name)
      .where("arch", "=", r.arch)
      .where("version", "=", r.version)
      .execute();
  }
  for (const chunk of inChunks(toInsert)) {
    await trx.insertInto("installed_packages").values(chunk).execute();
  }
  for (const [, r] of metadataChanged) {
    await trx
      .updateTable("installed_packages")
      .set({ source_name: r.source_name, source_version: r.source_version, purl: r.purl })
      .where("asset_id", "=", asset.id)
      .where("ecosystem", "=", r.ecosystem)
      .where("name", "=", r.name)
      .where("arch", "=", r.arch)
      .where("version", "=", r.version)
      .execute();
  }

  const changes = classifyChanges(toDelete, toInsert);
  const summary: ReportSummary = {
    total: incoming.size,
    added: changes.filter((c) => c.from === null).length,
    removed: changes.filter((c) => c.to === null).length,
    changed: changes.filter((c) => c.from !== null && c.to !== null).length,
    unchanged: false,
  };
  const kept = changes.slice(0, CHANGES_KEPT);
  const reportId = randomUUID();
  await trx
    .insertInto("inventory_reports")
    .values({
      id: reportId,
      asset_id: asset.id,
      received_at: at,
      source,
      total: summary.total,
      added: summary.added,
      removed: summary.removed,
      changed: summary.changed,
      changes: JSON.stringify({ changes: kept, truncated: changes.length > kept.length }),
    })
    .execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action: "inventory.reported",
      targetType: "asset",
      targetId: asset.id,
      data: {
        asset: asset.name,
        report: reportId,
        source,
        total: summary.total,
        added: summary.added,
        removed: summary.removed,
        changed: summary.changed,
        changes: kept,
      },
    },
    now,
  );
  await rematchAsset(trx, asset.id, now, [...toInsert, ...toDelete, ...metadataChanged.map(([, r]) => r)]);
  return summary;
}

/** Pairs a removed and an added version of the same package as one version change. */
export function classifyChanges(
  removed: readonly InstalledPackagesTable[],
  added: readonly InstalledPackagesTable[],
): PackageChange[] {
  const removedById = new Map<string, string[]>();
  for (const r of removed) removedById.set(identity(r), [...(removedById.get(identity(r)) ?? []), r.version]);
  const changes: PackageChange[] = [];
  for (const a of added) {
    const olds = removedById.get(identity(a));
    const from = olds?.shift() ?? null;
    changes.push({ ecosystem: a.ecosystem, name: a.name, arch: a.arch, from, to: a.version });
  }
  for (const r of removed) {
    const left = removedById.get(identity(r));
    if (left?.includes(r.version)) {
      left.splice(left.indexOf(r.version), 1);
      changes.push({ ecosystem: r.ecosystem, name: r.name, arch: r.arch, from: r.version, to: null });
    }
  }
  return changes.sort((x, y) => identity(x).localeCompare(identity(y)));
}
