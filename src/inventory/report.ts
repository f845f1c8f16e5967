import { randomUUID } from "node:crypto";
import { CompiledQuery, type Insertable, type Kysely } from "kysely";
import { rematchAsset } from "../advisories/findings/rematch.js";
import { ecosystemParts } from "../advisories/matching/ecosystem-key.js";
import type { AuditInput } from "../audit/event.js";
import { appendAudit, auditAppendCtes } from "../audit/log.js";
import { reasonError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type CanonicalPackage, canonicalPackageSet, packageIdentity } from "../domain/package-set.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { capabilitiesOf } from "../store/capabilities.js";
import { serializationFailure } from "../store/retry.js";
import type { Database, InstalledPackagesTable, InventoryReportsTable } from "../store/schema.js";
import { type DictionarySession, identityOf, PackageDictionary } from "./package-dictionary.js";
import { appendSetPairs } from "./package-log.js";
import { linesDigest, orderByKey, orderLines } from "./set-order.js";

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
  /** The digest of the asset's package set now (see src/domain/package-set.ts). */
  digest: string;
}

/** How many changes a report row keeps in full; the counts are always exact. */
const CHANGES_KEPT = 200;
/** How many of them its audit event repeats (the event names the report row, which has the rest). */
export const CHANGES_AUDITED = 20;

const identity = (p: { ecosystem: string; name: string; arch: string }) =>
  `${p.ecosystem}\u0000${p.name}\u0000${p.arch}`;

export function toRow(assetId: string, p: CanonicalPackage): InstalledPackagesTable {
  return {
    asset_id: assetId,
    ecosystem: p.ecosystem,
    name: p.name,
    version: p.version,
    arch: p.arch,
    source_name: p.sourceName,
    source_version: p.sourceVersion,
    purl: p.purl === "" ? null : p.purl,
  };
}

export interface ReplaceOptions {
  /** Lets a report with no packages replace a non-empty inventory (refused otherwise). */
  allowEmpty?: boolean;
  /** Where the packages came from, for the refusal: `/packages`, a file name. */
  where?: string;
  /** The store's dictionary session (see package-dictionary.ts); a cache-less one when absent. */
  dictionary?: DictionarySession;
  /** The caller set the asset's last-seen time already, in the same transaction. */
  seenWritten?: boolean;
  /** The asset's stored set, when the caller read it already (with its asset row, see agentAsset). */
  stored?: StoredSet | null;
  /** The caller held the packages to one version per package (one-version.ts). */
  oneVersionChecked?: boolean;
}

/** An asset's stored package set. */
export interface StoredSet {
  num: number;
  ids: number[];
  digest: string;
  total: number;
}

export async function readPackageSet(trx: Kysely<Database>, assetId: string): Promise<StoredSet | null> {
  const row = await trx
    .selectFrom("package_sets")
    .select(["num", "package_ids", "digest", "total"])
    .where("asset_id", "=", assetId)
    .executeTakeFirst();
  return row === undefined ? null : toStoredSet(row);
}

/** A package_sets row as read (PostgreSQL may answer integers as strings). */
export function toStoredSet(row: {
  num: number | string;
  package_ids: string;
  digest: string;
  total: number | string;
}): StoredSet {
  return {
    num: Number(row.num),
    ids: JSON.parse(row.package_ids) as number[],
    digest: row.digest,
    total: Number(row.total),
  };
}

/** An asset's stored packages, canonical, by identity. */
export async function storedPackages(
  trx: Kysely<Database>,
  assetId: string,
  session: DictionarySession,
  /** The set, when the caller read it already. */
  read?: StoredSet | null,
): Promise<{ set: StoredSet | null; packages: Map<string, CanonicalPackage> }> {
  const set = read !== undefined ? read : await readPackageSet(trx, assetId);
  const packages = new Map<string, CanonicalPackage>();
  if (set === null) return { set, packages };
  const described = await session.describe(trx, set.ids);
  for (const id of set.ids) {
    const p = described.get(id);
    if (p !== undefined) packages.set(identityOf(p), p);
  }
  return { set, packages };
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
  const session = options.dictionary ?? new PackageDictionary().session();
  session.reset();
  return applyPackageSet(trx, actor, asset, canonicalPackageSet(packages), source, now, options, session);
}

/** The part of replaceInventory after the report became a canonical set (a delta report joins here). */
export async function applyPackageSet(
  trx: Kysely<Database>,
  actor: Actor,
  asset: { id: string; name: string },
  incoming: ReadonlyMap<string, CanonicalPackage>,
  source: "agent" | "import",
  now: Date,
  options: ReplaceOptions,
  session: DictionarySession,
  known?: { set: StoredSet | null; packages: Map<string, CanonicalPackage> },
  /** The incoming set's digest, when the caller computed it already (a delta report checks it first). */
  incomingDigest?: string,
): Promise<ReportSummary> {
  const list = [...incoming.values()];
  const stored =
    known?.set !== undefined
      ? known.set
      : options.stored !== undefined
        ? options.stored
        : await readPackageSet(trx, asset.id);
  // An empty package database (a broken mount, a truncated status file) reads as "everything was
  // removed": that would mark every finding fixed, so it takes an explicit allowEmpty.
  if (incoming.size === 0 && stored !== null && stored.total > 0 && options.allowEmpty !== true) {
    throw reasonError(
      "inventory.would-empty",
      `the report lists no packages and would remove all ${stored.total} packages of ${asset.name}; ` +
        "pass allowEmpty (CLI: --allow-empty) if the asset really has none",
      { where: options.where ?? "/packages", details: { asset: asset.name, stored: stored.total } },
    );
  }
  const at = now.toISOString();
  if (options.seenWritten !== true)
    await trx.updateTable("assets").set({ last_seen_at: at }).where("id", "=", asset.id).execute();
  // Resolved before the digest, which then hashes the dictionary's own encoded keys in key order
  // (set-order.ts), kept for the asset's next delta. Only a changed set can name a package the
  // dictionary lacks, so an unchanged report adds nothing to it.
  const ids = await session.resolve(trx, list);
  const order = orderByKey(session, ids);
  const lines = orderLines(session, order);
  const digest = incomingDigest ?? linesDigest(lines);
  session.noteOrder(asset.id, { digest, ids: order, lines, oneVersion: options.oneVersionChecked === true });
  if (stored !== null && stored.digest === digest) {
    return { total: incoming.size, added: 0, removed: 0, changed: 0, unchanged: true, digest };
  }
  if (stored === null && incoming.size === 0) {
    return { total: 0, added: 0, removed: 0, changed: 0, unchanged: true, digest };
  }

  const newIds = new Map<number, CanonicalPackage>();
  ids.forEach((id, i) => {
    newIds.set(id, list[i] as CanonicalPackage);
  });
  const sortedIds = [...newIds.keys()].sort((a, b) => a - b);
  // A first report adds its whole set: the sorted ids are the added ones, no look-up or second sort.
  let addedIds: number[];
  let removedIds: number[];
  if (stored === null) {
    addedIds = [...sortedIds];
    removedIds = [];
  } else {
    const oldIds = new Set(stored.ids);
    addedIds = ids.filter((id) => !oldIds.has(id));
    removedIds = stored.ids.filter((id) => !newIds.has(id));
  }
  return writeSetChange(trx, actor, asset, source, now, session, {
    stored,
    total: incoming.size,
    digest,
    sortedIds,
    addedIds,
    addedPackage: (id) => newIds.get(id) as CanonicalPackage,
    removedIds,
    current: () => list,
    keyOrder: order,
  });
}

/** A set change computed by its caller: a full report's diff, or a delta's. */
export interface SetChange {
  stored: StoredSet | null;
  total: number;
  digest: string;
  /** The new set's ids, ascending. */
  sortedIds: number[];
  /** Ids of the new set absent from the stored one. */
  addedIds: number[];
  addedPackage: (id: number) => CanonicalPackage;
  /** Ids of the stored set absent from the new one. */
  removedIds: number[];
  /** The new set's packages, asked only when the change is re-matched. */
  current: () => readonly CanonicalPackage[];
  /** The new set's ids in content-key order (set-order.ts), when the caller has it. */
  keyOrder?: readonly number[];
}

/** Writes a changed set: the set row, the index's pairs, the report row, the audit event, the re-match. */
export async function writeSetChange(
  trx: Kysely<Database>,
  actor: Actor,
  asset: { id: string; name: string },
  source: "agent" | "import",
  now: Date,
  session: DictionarySession,
  change: SetChange,
): Promise<ReportSummary> {
  const { stored, digest, addedIds, removedIds } = change;
  const at = now.toISOString();
  const removedPackages = removedIds.length === 0 ? new Map() : await session.describe(trx, removedIds);

  // By identity: a package whose source or purl changed is the same package with new metadata.
  const removedByIdentity = new Map<string, CanonicalPackage>();
  for (const p of removedPackages.values()) removedByIdentity.set(packageIdentity(p), p);
  const addedIdentities = new Set<string>();
  const toInsert: InstalledPackagesTable[] = [];
  const metadataChanged: InstalledPackagesTable[] = [];
  for (const id of addedIds) {
    const p = change.addedPackage(id);
    // Nothing removed (a first report, or additions only): no identity to pair, none to build.
    if (removedByIdentity.size === 0) {
      toInsert.push(toRow(asset.id, p));
      continue;
    }
    const identity = packageIdentity(p);
    addedIdentities.add(identity);
    (removedByIdentity.has(identity) ? metadataChanged : toInsert).push(toRow(asset.id, p));
  }
  const toDelete: InstalledPackagesTable[] = [];
  for (const [identity, p] of removedByIdentity) {
    if (!addedIdentities.has(identity)) toDelete.push(toRow(asset.id, p));
  }

  const sorted = change.sortedIds;
  addedIds.sort((a, b) => a - b);
  // A first report adds its whole set: its changes are its packages in identity order, which the
  // set's key order already is (see additionsInKeyOrder); classifying them sorted 600 built keys.
  const changes =
    (removedIds.length === 0 && change.keyOrder !== undefined && change.keyOrder.length === addedIds.length
      ? additionsInKeyOrder(change.keyOrder, change.addedPackage)
      : undefined) ?? classifyChanges(toDelete, toInsert);
  let added = 0;
  let removed = 0;
  for (const c of changes) {
    if (c.from === null) added += 1;
    else if (c.to === null) removed += 1;
  }
  const summary: ReportSummary = {
    total: change.total,
    added,
    removed,
    changed: changes.length - added - removed,
    unchanged: false,
    digest,
  };
  const kept = changes.slice(0, CHANGES_KEPT);
  const reportId = randomUUID();
  const changedRows = [...toInsert, ...toDelete, ...metadataChanged];
  const write: SetWrite = {
    assetId: asset.id,
    stored,
    packageIds: sorted,
    digest,
    total: change.total,
    at,
    removedIds,
    addedIds,
    report: {
      id: reportId,
      asset_id: asset.id,
      received_at: at,
      source,
      total: summary.total,
      added: summary.added,
      removed: summary.removed,
      changed: summary.changed,
      changes: JSON.stringify({ changes: kept, truncated: changes.length > kept.length }),
    },
    // Asked with or before the audit event: on PostgreSQL appending it locks the chain's head until the
    // commit, and the probes read nothing this report writes.
    probe: changedRows.length === 0 ? null : probeEcosystems(changedRows),
  };
  // The event names the report row, which keeps the first CHANGES_KEPT changes; the event itself keeps
  // the counts and the first few, so hashing it does not cost in proportion to the report.
  const audited = changes.slice(0, CHANGES_AUDITED);
  const event: AuditInput = {
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
      changes: audited,
      ...(changes.length > audited.length ? { changesTruncated: true } : {}),
    },
  };
  let mayMatch: boolean;
  if (capabilitiesOf(trx).writableCte) {
    mayMatch = await writeSetAtOnce(trx, write, event, now);
  } else {
    mayMatch = await writeSetByStatements(trx, write);
    await appendAudit(trx, event, now);
  }
  if (mayMatch) {
    const scope = new Set(changedRows.map(identity));
    const current = change
      .current()
      .filter((p) => scope.has(identity(p)))
      .map((p) => toRow(asset.id, p));
    await rematchAsset(trx, asset.id, now, changedRows, current);
  }
  return summary;
}

/** What a changed report writes: the set row, its inverted index, the report row, and the probes. */
interface SetWrite {
  assetId: string;
  stored: StoredSet | null;
  /** The new set's ids, sorted. */
  packageIds: number[];
  digest: string;
  total: number;
  at: string;
  removedIds: readonly number[];
  /** Sorted, and absent from the stored set by construction. */
  addedIds: readonly number[];
  report: Insertable<InventoryReportsTable>;
  /** The ecosystems advisories may name, or null when no row changed (nothing to re-match). */
  probe: string[] | null;
}

/** The supported ecosystems of the changed rows, each split once: a report names a handful. */
function probeEcosystems(rows: readonly InstalledPackagesTable[]): string[] {
  const ecosystems = new Set<string>();
  const named = new Set<string>();
  for (const r of rows) {
    if (named.has(r.ecosystem)) continue;
    named.add(r.ecosystem);
    const parts = ecosystemParts(r.ecosystem);
    if (parts.supported) ecosystems.add(parts.base);
  }
  return [...ecosystems];
}

/**
 * One statement for the whole write where the database takes writes inside WITH: the set row, the
 * inverted index's deletes and inserts (ids as array parameters that `unnest` reads, not one bound value
 * per row) with the log rows they supersede, the report row, the audit event and the two probes. On PostgreSQL each statement is a
 * round trip with its own parse, plan and executor start; a report had seven of them here. The event
 * locks the chain's head until the commit, as its own statement would one round trip later; reports
 * that share a transaction (grouped writes) hold that lock from the first anyway. Returns whether
 * re-matching may apply (see matchingMayApply).
 */
async function writeSetAtOnce(
  trx: Kysely<Database>,
  w: SetWrite,
  event: AuditInput,
  now: Date,
): Promise<boolean> {
  const params: unknown[] = [];
  const p = (value: unknown, cast?: string) => {
    params.push(value);
    return cast === undefined ? `$${params.length}` : `cast($${params.length} as ${cast})`;
  };
  const ctes: string[] = [];
  const setColumns = { package_ids: JSON.stringify(w.packageIds), digest: w.digest, total: w.total };
  if (w.stored === null) {
    ctes.push(
      // A concurrent first report of the same asset may have committed its set since this one read
      // none: then nothing is written here and the transaction runs again (below).
      `s as (insert into package_sets (asset_id, package_ids, digest, total, updated_at) values (${p(w.assetId)}, ${p(setColumns.package_ids)}, ${p(setColumns.digest)}, ${p(setColumns.total)}, ${p(w.at)}) on conflict (asset_id) do nothing returning num)`,
    );
  } else {
    const num = p(w.stored.num, "integer");
    ctes.push(
      `s as (update package_sets set package_ids = ${p(setColumns.package_ids)}, digest = ${p(setColumns.digest)}, total = ${p(setColumns.total)}, updated_at = ${p(w.at)} where num = ${num} returning num)`,
    );
  }
  // The pairs go straight into the index, in key order (the ids are sorted and unnest keeps an array's
  // order): the log (package-log.ts) would cost a second insert and a delete per pair here, and saves
  // nothing, PostgreSQL rewriting no page per commit (the cost it saves SQLite).
  let logged = false;
  if (w.stored === null) {
    // A new set: no log row can name its number yet.
    if (w.addedIds.length > 0)
      ctes.push(
        `i as (insert into asset_packages (package_id, set_num) select u.id, s.num from s cross join unnest(${p(w.addedIds, "integer[]")}) as u (id))`,
      );
  } else if (w.removedIds.length + w.addedIds.length > 0) {
    // A changed set. Log rows its pairs may still have (appended before reports wrote the index, and
    // not merged yet) override the index, so they go with this write: the pair's state is then the
    // index's alone. A merge that moved one of them after this statement's snapshot was taken made a
    // change this statement cannot see (and that its own writes may undo): the delete then returns
    // fewer rows than the snapshot held, and the report runs again (below).
    const pairIds = [...w.removedIds, ...w.addedIds].sort((x, y) => x - y);
    const pairs = p(pairIds, "integer[]");
    logged = true;
    ctes.push(
      `lv as (select count(*) as n from asset_package_log l join unnest(${pairs}) as u (id) on l.package_id = u.id where l.set_num = ${p(w.stored.num, "integer")})`,
      `ld as (delete from asset_package_log l using s, unnest(${pairs}) as u (id) where l.package_id = u.id and l.set_num = s.num returning 1)`,
    );
    if (w.removedIds.length > 0)
      ctes.push(
        `ad as (delete from asset_packages ap using s, unnest(${p(w.removedIds, "integer[]")}) as u (id) where ap.package_id = u.id and ap.set_num = s.num)`,
      );
    // A pair the log was removing is still in the index: nothing to insert then.
    if (w.addedIds.length > 0)
      ctes.push(
        `ai as (insert into asset_packages (package_id, set_num) select u.id, s.num from s cross join unnest(${p(w.addedIds, "integer[]")}) as u (id) on conflict do nothing)`,
      );
  }
  const r = w.report;
  ctes.push(
    `r as (insert into inventory_reports (id, asset_id, received_at, source, total, added, removed, changed, changes) values (${[
      r.id,
      r.asset_id,
      r.received_at,
      r.source,
      r.total,
      r.added,
      r.removed,
      r.changed,
      r.changes,
    ]
      .map((v) => p(v))
      .join(", ")}))`,
  );
  ctes.push(...auditAppendCtes(event, now, (v) => p(v)).ctes);
  const probes =
    w.probe === null
      ? []
      : [
          `exists (select 1 from findings where asset_id = ${p(w.assetId)} and status <> ${p("fixed")}) as finding`,
          ...(w.probe.length === 0
            ? []
            : [
                `exists (select 1 from advisory_packages where ecosystem = any(${p(w.probe, "text[]")})) as advisory`,
              ]),
        ];
  const result = await trx.executeQuery<Record<string, unknown>>(
    CompiledQuery.raw(
      `with ${ctes.join(", ")} select ${[
        "s.num",
        "(select audit_seq from audit_e) as audit_seq",
        ...(logged ? ["(select n from lv) = (select count(*) from ld) as log_held"] : []),
        ...probes,
      ].join(", ")} from s`,
      params,
    ),
  );
  const row = result.rows[0];
  // The event went in with the set (WITH runs every write); the error rolls both back.
  if (row === undefined)
    throw serializationFailure(`the package set of asset ${w.assetId} was written by a concurrent report`);
  if (logged && row.log_held !== true)
    throw serializationFailure(
      `a merge of the index's log moved pairs of asset ${w.assetId} during its report`,
    );
  if (row.audit_seq === null || row.audit_seq === undefined)
    throw new Error("the audit chain has no head row");
  return row.finding === true || row.advisory === true;
}

/**
 * The same write, one statement per table (SQLite, in-process: a statement costs no round trip). Raw
 * statements with positional parameters: building and compiling them with Kysely on every report cost
 * more than running them.
 */
async function writeSetByStatements(trx: Kysely<Database>, w: SetWrite): Promise<boolean> {
  let num: number;
  const packageIds = JSON.stringify(w.packageIds);
  if (w.stored === null) {
    const result = await trx.executeQuery<{ num: number }>(
      CompiledQuery.raw(
        "insert into package_sets (asset_id, package_ids, digest, total, updated_at) values (?, ?, ?, ?, ?) returning num",
        [w.assetId, packageIds, w.digest, w.total, w.at],
      ),
    );
    const row = result.rows[0];
    if (row === undefined) throw new Error(`the package set of asset ${w.assetId} was not written`);
    num = Number(row.num);
  } else {
    num = w.stored.num;
    await trx.executeQuery(
      CompiledQuery.raw(
        "update package_sets set package_ids = ?, digest = ?, total = ?, updated_at = ? where num = ?",
        [packageIds, w.digest, w.total, w.at, num],
      ),
    );
  }
  // The pairs go to the index's log, merged into the index later in large batches (package-log.ts).
  // A new set's pairs too: written straight into the index they land on as many leaf pages as the set
  // has packages, and each commit writes those pages (measured: that insert and the commits cost about
  // twice the log's insert, its share of the merge and the commits).
  await appendSetPairs(trx, num, w.removedIds, w.addedIds, w.stored === null);
  const r = w.report;
  await trx.executeQuery(
    CompiledQuery.raw(
      "insert into inventory_reports (id, asset_id, received_at, source, total, added, removed, changed, changes) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [r.id, r.asset_id, r.received_at, r.source, r.total, r.added, r.removed, r.changed, r.changes],
    ),
  );
  return w.probe === null ? false : matchingMayApply(trx, w.assetId, w.probe);
}

/**
 * Whether re-matching the changed rows can open, update or fix a finding of the asset: not when no
 * advisory names any of their ecosystems and the asset has no unresolved finding. A fleet that reports
 * before any advisory import (or of ecosystems no feed covers) then skips the advisory look-up of every
 * package of every report. Two one-row probes on indexed columns, in one statement (SQLite).
 */
async function matchingMayApply(
  trx: Kysely<Database>,
  assetId: string,
  ecosystems: readonly string[],
): Promise<boolean> {
  const finding = "exists (select 1 from findings where asset_id = ? and status <> 'fixed')";
  const text =
    ecosystems.length === 0
      ? `select ${finding} as finding`
      : `select ${finding} or exists (select 1 from advisory_packages where ecosystem in (${ecosystems.map(() => "?").join(", ")})) as finding`;
  const result = await trx.executeQuery<{ finding: number }>(
    CompiledQuery.raw(text, [assetId, ...ecosystems]),
  );
  return Number(result.rows[0]?.finding ?? 0) === 1;
}

/**
 * The changes of a set that is all added, as classifyChanges orders them (by identity, then as
 * given), from the set's ids in content-key order; undefined when that order may differ. A content
 * key starts with the identity's fields and a separator that sorts first, so key order is identity
 * order where no two packages share an identity and no identity field holds the separator itself:
 * both are checked here, pair by pair, without building a key.
 */
export function additionsInKeyOrder(
  order: readonly number[],
  packageOf: (id: number) => CanonicalPackage,
): PackageChange[] | undefined {
  const changes: PackageChange[] = new Array(order.length);
  let prev: CanonicalPackage | undefined;
  for (let i = 0; i < order.length; i++) {
    const p = packageOf(order[i] as number);
    if (p.ecosystem.includes("\u0000") || p.name.includes("\u0000") || p.arch.includes("\u0000"))
      return undefined;
    if (prev !== undefined && !identityBefore(prev, p)) return undefined;
    changes[i] = { ecosystem: p.ecosystem, name: p.name, arch: p.arch, from: null, to: p.version };
    prev = p;
  }
  return changes;
}

/** Whether a's identity (ecosystem, name, arch) sorts strictly before b's, in code-unit order. */
function identityBefore(a: CanonicalPackage, b: CanonicalPackage): boolean {
  if (a.ecosystem !== b.ecosystem) return a.ecosystem < b.ecosystem;
  if (a.name !== b.name) return a.name < b.name;
  return a.arch < b.arch;
}

/** Pairs a removed and an added version of the same package as one version change. */
export function classifyChanges(
  removed: readonly InstalledPackagesTable[],
  added: readonly InstalledPackagesTable[],
): PackageChange[] {
  const removedById = new Map<string, string[]>();
  for (const r of removed) {
    const k = identity(r);
    const versions = removedById.get(k);
    if (versions === undefined) removedById.set(k, [r.version]);
    else versions.push(r.version);
  }
  const changes: Array<{ key: string; change: PackageChange }> = [];
  for (const a of added) {
    const k = identity(a);
    const from = removedById.get(k)?.shift() ?? null;
    changes.push({
      key: k,
      change: { ecosystem: a.ecosystem, name: a.name, arch: a.arch, from, to: a.version },
    });
  }
  for (const r of removed) {
    const k = identity(r);
    const left = removedById.get(k);
    const at = left?.indexOf(r.version) ?? -1;
    if (left !== undefined && at >= 0) {
      left.splice(at, 1);
      changes.push({
        key: k,
        change: { ecosystem: r.ecosystem, name: r.name, arch: r.arch, from: r.version, to: null },
      });
    }
  }
  // Code-unit order of the identity, computed once per change: locale-aware comparison cost a
  // millisecond per 600-package report and gains nothing for package names.
  changes.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return changes.map((c) => c.change);
}
