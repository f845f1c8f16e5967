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

interface Entry {
  key: string;
  id: number;
  pkg: CanonicalPackage;
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

  add(e: Entry): void {
    if (this.#byId.has(e.id)) return;
    this.#byId.set(e.id, e);
    const entries = this.#byName.get(e.pkg.name);
    if (entries === undefined) this.#byName.set(e.pkg.name, [e]);
    else entries.push(e);
  }
}

/** The process-wide cache of committed ids, one per store. */
export class PackageDictionary {
  readonly #entries = new EntryIndex();

  /** A lookup for one write: what it learns joins the cache only once its transaction committed. */
  session(): DictionarySession {
    return new DictionarySession(this);
  }

  cached(p: CanonicalPackage): Entry | undefined {
    return this.#entries.find(p);
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
  }

  /** After the write committed: its ids are now safe to cache. */
  commit(): void {
    this.#dictionary.learn(this.#pending);
    this.reset();
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
