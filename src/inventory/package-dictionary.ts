/**
 * The fleet-wide dictionary of distinct package versions (table `packages`): resolves a report's
 * packages to ids and ids back to packages. Ids are never deleted or reused, so an id seen committed
 * names the same package forever: the store's dictionary caches them for the life of the process, and
 * a report only asks the database about packages no report has named yet.
 */
import type { Kysely } from "kysely";
import { type CanonicalPackage, packageContentKey, packageIdentity } from "../domain/package-set.js";
import { inChunks } from "../store/chunks.js";
import type { Database } from "../store/schema.js";

/**
 * Content keys by package object. A report's packages are keyed once for the digest, the dictionary
 * look-up and the diff, and the dictionary's own packages keep theirs: building the key and hashing a
 * fresh string for every look-up cost more than the look-ups.
 */
const contentKeys = new WeakMap<CanonicalPackage, string>();

export function contentKeyOf(p: CanonicalPackage): string {
  let key = contentKeys.get(p);
  if (key === undefined) {
    key = packageContentKey(p);
    contentKeys.set(p, key);
  }
  return key;
}

const identities = new WeakMap<CanonicalPackage, string>();

/** packageIdentity, kept with the package like its content key: a stored set is keyed by it on every delta. */
export function identityOf(p: CanonicalPackage): string {
  let identity = identities.get(p);
  if (identity === undefined) {
    identity = packageIdentity(p);
    identities.set(p, identity);
  }
  return identity;
}

export interface Entry {
  key: string;
  id: number;
  pkg: CanonicalPackage;
  /** The key and its newline as UTF-8, the digest's bytes for this package (see set-order.ts). */
  line?: Buffer;
}

function fromRow(r: {
  id: number;
  ecosystem: string;
  name: string;
  version: string;
  arch: string;
  source_name: string;
  source_version: string;
  purl: string;
}): Entry {
  const pkg: CanonicalPackage = {
    ecosystem: r.ecosystem,
    name: r.name,
    version: r.version,
    arch: r.arch,
    sourceName: r.source_name,
    sourceVersion: r.source_version,
    purl: r.purl,
  };
  return { key: contentKeyOf(pkg), id: Number(r.id), pkg };
}

function samePackage(a: CanonicalPackage, b: CanonicalPackage): boolean {
  return (
    a.version === b.version &&
    a.arch === b.arch &&
    a.ecosystem === b.ecosystem &&
    a.sourceName === b.sourceName &&
    a.sourceVersion === b.sourceVersion &&
    a.purl === b.purl
  );
}

/**
 * Entries found by package name, then compared field by field. A report's packages arrive as fresh
 * strings: looking them up by their whole content key meant building and hashing a 130-character
 * string per package, which cost more than the rest of the diff; a name is short, and the few entries
 * that share it are told apart by plain string comparisons.
 */
class EntryIndex {
  readonly #byName = new Map<string, Entry[]>();
  readonly #byId = new Map<number, Entry>();

  find(p: CanonicalPackage): Entry | undefined {
    const entries = this.#byName.get(p.name);
    if (entries === undefined) return undefined;
    for (const e of entries) if (samePackage(e.pkg, p)) return e;
    return undefined;
  }

  get(id: number): Entry | undefined {
    return this.#byId.get(id);
  }

  named(name: string): readonly Entry[] | undefined {
    return this.#byName.get(name);
  }

  add(e: Entry): void {
    if (this.#byId.has(e.id)) return;
    this.#byId.set(e.id, e);
    const entries = this.#byName.get(e.pkg.name);
    if (entries === undefined) this.#byName.set(e.pkg.name, [e]);
    else entries.push(e);
  }
}

/**
 * A set's ids sorted by content key, with the set's digest: a delta then inserts and removes a few
 * ids instead of sorting 600 keys again. Sound across writers: equal digests mean equal sets.
 */
export interface SetOrder {
  digest: string;
  ids: readonly number[];
  /** The set holds one version per (package, arch) where dpkg's rule applies (one-version.ts). */
  oneVersion: boolean;
  /** The ids' digest lines (Entry.line, shared with the dictionary), in the same order. */
  lines?: readonly Buffer[];
}

/** How many assets' orders a process keeps (ids and lines: about 10 KB each for 600 packages). */
const MAX_ORDERS = 20_000;

/** The process-wide cache of committed ids, one per store. */
export class PackageDictionary {
  readonly #entries = new EntryIndex();
  /** Committed sets' ids in content-key order, by asset (see set-order.ts); the oldest go first. */
  readonly #orders = new Map<string, SetOrder>();

  order(assetId: string): SetOrder | undefined {
    return this.#orders.get(assetId);
  }

  learnOrder(assetId: string, order: SetOrder): void {
    this.#orders.delete(assetId);
    this.#orders.set(assetId, order);
    if (this.#orders.size > MAX_ORDERS) {
      const oldest = this.#orders.keys().next().value;
      if (oldest !== undefined) this.#orders.delete(oldest);
    }
  }

  /** A lookup for one write: what it learns joins the cache only once its transaction committed. */
  session(): DictionarySession {
    return new DictionarySession(this);
  }

  cached(p: CanonicalPackage): Entry | undefined {
    return this.#entries.find(p);
  }

  cachedNamed(name: string): readonly Entry[] | undefined {
    return this.#entries.named(name);
  }

  cachedEntry(id: number): Entry | undefined {
    return this.#entries.get(id);
  }

  learn(entries: Iterable<Entry>): void {
    for (const e of entries) this.#entries.add(e);
  }
}

const dictionaries = new WeakMap<object, PackageDictionary>();

/** The dictionary of the store behind `db` (its root Kysely instance, not a transaction). */
export function packageDictionary(db: Kysely<Database>): PackageDictionary {
  let d = dictionaries.get(db);
  if (d === undefined) {
    d = new PackageDictionary();
    dictionaries.set(db, d);
  }
  return d;
}

export class DictionarySession {
  readonly #dictionary: PackageDictionary;
  /** Entries read or added in this write's transaction: cached for good only once it committed. */
  #learned = new EntryIndex();

  constructor(dictionary: PackageDictionary) {
    this.#dictionary = dictionary;
  }

  /** Forgets what an earlier attempt learned (a PostgreSQL transaction that runs again). */
  reset(): void {
    this.#learned = new EntryIndex();
    this.#pending = [];
    this.#orders = [];
  }

  /** After the write committed: its ids are now safe to cache. */
  commit(): void {
    this.#dictionary.learn(this.#pending);
    for (const [assetId, order] of this.#orders) this.#dictionary.learnOrder(assetId, order);
    this.reset();
  }

  #orders: Array<[string, SetOrder]> = [];

  /** The committed order of an asset's set, if this process knows it. */
  order(assetId: string): SetOrder | undefined {
    return this.#dictionary.order(assetId);
  }

  /** The order of the set this write stores for the asset: known to the process once it committed. */
  noteOrder(assetId: string, order: SetOrder): void {
    this.#orders.push([assetId, order]);
  }

  /** The entries of this name the session can see (the cache's and its own): a delta's look-ups. */
  named(name: string): Entry[] {
    const cached = this.#dictionary.cachedNamed(name);
    const learned = this.#learned.named(name);
    if (learned === undefined) return cached === undefined ? [] : [...cached];
    return cached === undefined ? [...learned] : [...cached, ...learned];
  }

  /** The digest's bytes for a package this session resolved or described. */
  lineOf(id: number): Buffer {
    const e = this.#entry(id);
    if (e === undefined) throw new Error(`package id ${id} was not resolved in this write`);
    if (e.line === undefined) e.line = Buffer.from(`${e.key}\n`, "utf8");
    return e.line;
  }

  /** Makes these ids' packages known to the session (describe without its map). */
  async know(trx: Kysely<Database>, ids: readonly number[]): Promise<void> {
    const unknown: number[] = [];
    for (const id of ids) if (this.#entry(id) === undefined) unknown.push(id);
    if (unknown.length > 0) await this.describe(trx, unknown);
  }

  #pending: Entry[] = [];

  #find(p: CanonicalPackage): Entry | undefined {
    return this.#dictionary.cached(p) ?? this.#learned.find(p);
  }

  #entry(id: number): Entry | undefined {
    return this.#dictionary.cachedEntry(id) ?? this.#learned.get(id);
  }

  #keep(e: Entry): void {
    if (this.#learned.get(e.id) !== undefined) return;
    this.#learned.add(e);
    this.#pending.push(e);
  }

  /** The dictionary entry of an id this session resolved or described. */
  entry(id: number): Entry | undefined {
    return this.#entry(id);
  }

  /** The content key of a package this session resolved or described (see contentKeyOf). */
  keyOf(id: number): string {
    const e = this.#entry(id);
    if (e === undefined) throw new Error(`package id ${id} was not resolved in this write`);
    return e.key;
  }

  /** The ids of these packages, adding the ones the dictionary lacks. */
  async resolve(trx: Kysely<Database>, packages: readonly CanonicalPackage[]): Promise<number[]> {
    const ids: number[] = new Array(packages.length);
    const missing = new Map<string, CanonicalPackage>();
    packages.forEach((p, i) => {
      const e = this.#find(p);
      if (e === undefined) missing.set(contentKeyOf(p), p);
      else ids[i] = e.id;
    });
    if (missing.size === 0) return ids;
    await this.#load(trx, missing);
    const absent = [...missing].filter(([, p]) => this.#find(p) === undefined);
    // Sorted, so concurrent PostgreSQL writers take the unique index's locks in one order.
    absent.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const chunk of inChunks(absent, 200)) {
      await trx
        .insertInto("packages")
        .values(
          chunk.map(([, p]) => ({
            ecosystem: p.ecosystem,
            name: p.name,
            version: p.version,
            arch: p.arch,
            source_name: p.sourceName,
            source_version: p.sourceVersion,
            purl: p.purl,
          })),
        )
        // A concurrent report may have added it first: its row is the one.
        .onConflict((oc) =>
          oc
            .columns(["ecosystem", "name", "arch", "version", "source_name", "source_version", "purl"])
            .doNothing(),
        )
        .execute();
    }
    if (absent.length > 0) await this.#load(trx, new Map(absent));
    packages.forEach((p, i) => {
      if (ids[i] !== undefined) return;
      const e = this.#find(p);
      if (e === undefined) throw new Error(`package ${JSON.stringify(contentKeyOf(p))} has no dictionary id`);
      ids[i] = e.id;
    });
    return ids;
  }

  /** The packages of these ids. */
  async describe(trx: Kysely<Database>, ids: readonly number[]): Promise<Map<number, CanonicalPackage>> {
    const out = new Map<number, CanonicalPackage>();
    const unknown: number[] = [];
    for (const id of ids) {
      const e = this.#entry(id);
      if (e === undefined) unknown.push(id);
      else out.set(id, e.pkg);
    }
    for (const chunk of inChunks(unknown)) {
      const rows = await trx.selectFrom("packages").selectAll().where("id", "in", chunk).execute();
      for (const r of rows) {
        const e = fromRow(r);
        this.#keep(e);
        out.set(e.id, e.pkg);
      }
    }
    return out;
  }

  /** Reads the dictionary rows of these packages' names and keeps those that match exactly. */
  async #load(trx: Kysely<Database>, wanted: ReadonlyMap<string, CanonicalPackage>): Promise<void> {
    const ecosystems = [...new Set([...wanted.values()].map((p) => p.ecosystem))];
    const names = [...new Set([...wanted.values()].map((p) => p.name))];
    for (const chunk of inChunks(names)) {
      // (ecosystem, name) is the prefix of the dictionary's unique index.
      const rows = await trx
        .selectFrom("packages")
        .selectAll()
        .where("ecosystem", "in", ecosystems)
        .where("name", "in", chunk)
        .execute();
      for (const r of rows) {
        const e = fromRow(r);
        if (wanted.has(e.key)) this.#keep(e);
      }
    }
  }
}
