/**
 * A delta report's new set, computed from the few changed records: the stored set's ids edited by
 * the dictionary's look-ups by name, its digest from the stored set's key order (set-order.ts), the
 * one-version rule checked for the added records only when the stored set is known to hold it.
 * The answers, refusals and writes are those of building the whole set and diffing it (the path a
 * stored set breaking the rule still takes for its check).
 */
import type { Kysely } from "kysely";
import { ConflictError, reasonError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type CanonicalPackage, canonicalPackageSet, packageIdentity } from "../domain/package-set.js";
import type { Actor } from "../domain/roles.js";
import type { Database } from "../store/schema.js";
import { holdsOneVersion, requireAddedOneVersion, requireOneVersionInSet } from "./one-version.js";
import { type DictionarySession, identityOf } from "./package-dictionary.js";
import { type ReportSummary, type StoredSet, writeSetChange } from "./report.js";
import { editOrderLines, linesDigest, orderByKey, orderLines } from "./set-order.js";

export interface InventoryDelta {
  /** The digest of the set the server acknowledged last: the delta applies to that set only. */
  base: string;
  /** Packages added or changed (a changed version is the new record here and the old one in removed). */
  added: readonly PackageRecord[];
  /** Packages gone, by ecosystem, name, arch and version. */
  removed: ReadonlyArray<Pick<PackageRecord, "ecosystem" | "name" | "arch" | "version">>;
  /** The digest of the set after the delta, as the agent computed it. */
  digest: string;
}

export async function applyInventoryDelta(
  trx: Kysely<Database>,
  actor: Actor,
  asset: { id: string; name: string },
  stored: StoredSet | null,
  delta: InventoryDelta,
  now: Date,
  session: DictionarySession,
): Promise<ReportSummary> {
  if (stored === null || stored.digest !== delta.base) {
    throw new ConflictError(
      "the inventory this delta is based on is not the one the server holds: send a full report",
      {
        reason: "inventory.delta-base-mismatch",
        where: "/base",
        details: { held: stored?.digest ?? null, base: delta.base },
      },
    );
  }
  // A set this process committed (same digest, so the same ids) has its packages in the dictionary
  // already, and its order: the delta edits it without looking at the other 600 ids one by one.
  const known = session.order(asset.id);
  const base = known !== undefined && known.digest === stored.digest ? known : undefined;
  if (base === undefined) await session.know(trx, stored.ids);
  const inStored = membership(stored.ids);
  const added = canonicalPackageSet(delta.added);
  const addedList = [...added.values()];
  const addedIds = await session.resolve(trx, addedList);
  const addedIdSet = new Set(addedIds);

  // The stored packages a removed or added record names by identity: both take it out of the set.
  const removedSet = new Set<number>();
  const drop = (ecosystem: string, name: string, arch: string, version: string) => {
    for (const e of session.named(name)) {
      const p = e.pkg;
      if (p.version === version && p.arch === arch && p.ecosystem === ecosystem && inStored(e.id))
        if (!addedIdSet.has(e.id)) removedSet.add(e.id);
    }
  };
  for (const r of delta.removed) drop(r.ecosystem, r.name, r.arch ?? "", r.version);
  for (const p of addedList) drop(p.ecosystem, p.name, p.arch, p.version);
  const removedIds = [...removedSet].sort(ascending);
  const newIds = addedIds.filter((id) => !inStored(id)).sort(ascending);
  const inSet = (id: number) => addedIdSet.has(id) || (inStored(id) && !removedSet.has(id));

  const baseOrder = base?.ids ?? orderByKey(session, stored.ids);
  const edited = editOrderLines(
    session,
    baseOrder,
    base?.lines ?? orderLines(session, baseOrder),
    removedSet,
    newIds,
  );
  const order = edited.ids;
  const lines = edited.lines as Buffer[];
  const digest = linesDigest(lines);
  if (digest !== delta.digest) {
    throw new ConflictError(
      "the inventory after this delta is not the one the agent described: send a full report",
      {
        reason: "inventory.delta-digest-mismatch",
        where: "/digest",
        details: { digest, expected: delta.digest },
      },
    );
  }

  // The set as a whole-set diff orders it: the stored packages, then the added ones that did not
  // take a kept package's place. Built only for the rare paths that need it.
  const wholeSet = (): CanonicalPackage[] => {
    const next = new Map<string, CanonicalPackage>();
    for (const id of stored.ids) {
      const p = session.entry(id)?.pkg;
      if (p !== undefined) next.set(identityOf(p), p);
    }
    for (const r of delta.removed)
      next.delete(
        packageIdentity({ ecosystem: r.ecosystem, name: r.name, arch: r.arch ?? "", version: r.version }),
      );
    for (const [identity, p] of added) next.set(identity, p);
    return [...next.values()];
  };
  const holds =
    base?.oneVersion ?? holdsOneVersion(stored.ids.map((id) => session.entry(id)?.pkg as CanonicalPackage));
  if (holds) {
    requireAddedOneVersion(
      addedList,
      (p) => {
        for (const e of session.named(p.name)) {
          const q = e.pkg;
          if (
            q.ecosystem === p.ecosystem &&
            q.arch === (p.arch ?? "") &&
            q.version !== p.version &&
            inSet(e.id)
          )
            return q.version;
        }
        return undefined;
      },
      "/added",
    );
  } else {
    requireOneVersionInSet(wholeSet(), () => "/added");
  }

  const total = stored.ids.length - removedIds.length + newIds.length;
  if (total === 0 && stored.total > 0) {
    throw reasonError(
      "inventory.would-empty",
      `the report lists no packages and would remove all ${stored.total} packages of ${asset.name}; ` +
        "pass allowEmpty (CLI: --allow-empty) if the asset really has none",
      { where: "/added", details: { asset: asset.name, stored: stored.total } },
    );
  }
  session.noteOrder(asset.id, { digest, ids: order, lines, oneVersion: true });
  if (digest === stored.digest) return { total, added: 0, removed: 0, changed: 0, unchanged: true, digest };

  const addedById = new Map<number, CanonicalPackage>();
  addedIds.forEach((id, i) => {
    addedById.set(id, addedList[i] as CanonicalPackage);
  });
  const sortedIds = mergeSorted(inStored.sorted, removedSet, newIds);
  return writeSetChange(trx, actor, asset, "agent", now, session, {
    stored,
    total,
    digest,
    sortedIds,
    addedIds: newIds,
    addedPackage: (id) => addedById.get(id) as CanonicalPackage,
    removedIds,
    current: wholeSet,
  });
}

const ascending = (a: number, b: number) => a - b;

/**
 * Membership in a stored set's ids by binary search: they are stored ascending (a set written before
 * that was not is sorted here once), and building a Set of 600 ids cost more than the few look-ups.
 */
export function membership(
  ids: readonly number[],
): ((id: number) => boolean) & { sorted: readonly number[] } {
  let sorted = ids;
  for (let i = 1; i < ids.length; i++) {
    if ((ids[i - 1] as number) >= (ids[i] as number)) {
      sorted = [...new Set(ids)].sort(ascending);
      break;
    }
  }
  const has = (id: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = sorted[mid] as number;
      if (at === id) return true;
      if (at < id) lo = mid + 1;
      else hi = mid;
    }
    return false;
  };
  return Object.assign(has, { sorted });
}

/** The ascending ids less the removed ones, with the ascending added ones (none of them present) merged in. */
export function mergeSorted(
  ids: readonly number[],
  removed: ReadonlySet<number>,
  added: readonly number[],
): number[] {
  const out: number[] = [];
  let j = 0;
  for (const id of ids) {
    if (removed.has(id)) continue;
    while (j < added.length && (added[j] as number) < id) out.push(added[j++] as number);
    out.push(id);
  }
  while (j < added.length) out.push(added[j++] as number);
  return out;
}
