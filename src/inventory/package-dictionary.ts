/**
 * The fleet-wide dictionary of distinct package versions (table `packages`): resolves a report's
 * packages to ids and ids back to packages. Ids are never deleted or reused, so an id seen committed
 * names the same package forever: the store's dictionary caches them for the life of the process, and
 * a report only asks the database about packages no report has named yet.
 */
import type { Kysely } from "kysely";
import { type CanonicalPackage, packageContentKey } from "../domain/package-set.js";
import { inChunks } from "../store/chunks.js";
import type { Database } from "../store/schema.js";

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
  return { key: packageContentKey(pkg), id: Number(r.id), pkg };
}

/** The process-wide cache of committed ids, one per store. */
export class PackageDictionary {
  readonly #ids = new Map<string, number>();
  readonly #packages = new Map<number, CanonicalPackage>();

  /** A lookup for one write: what it learns joins the cache only once its transaction committed. */
  session(): DictionarySession {
    return new DictionarySession(this);
  }

  cachedId(key: string): number | undefined {
    return this.#ids.get(key);
  }

  cachedPackage(id: number): CanonicalPackage | undefined {
    return this.#packages.get(id);
  }

  learn(entries: Iterable<Entry>): void {
    for (const e of entries) {
      this.#ids.set(e.key, e.id);
      this.#packages.set(e.id, e.pkg);
    }
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
  #learned = new Map<string, Entry>();

  constructor(dictionary: PackageDictionary) {
    this.#dictionary = dictionary;
  }

  /** Forgets what an earlier attempt learned (a PostgreSQL transaction that runs again). */
  reset(): void {
    this.#learned = new Map();
  }

  /** After the write committed: its ids are now safe to cache. */
  commit(): void {
    this.#dictionary.learn(this.#learned.values());
    this.#learned = new Map();
  }

  #id(key: string): number | undefined {
    return this.#dictionary.cachedId(key) ?? this.#learned.get(key)?.id;
  }

  #package(id: number): CanonicalPackage | undefined {
    return this.#dictionary.cachedPackage(id) ?? this.#byId.get(id);
  }

  #byId = new Map<number, CanonicalPackage>();

  #keep(e: Entry): void {
    this.#learned.set(e.key, e);
    this.#byId.set(e.id, e.pkg);
  }

  /** The ids of these packages, adding the ones the dictionary lacks. */
  async resolve(trx: Kysely<Database>, packages: readonly CanonicalPackage[]): Promise<number[]> {
    const keys = packages.map(packageContentKey);
    const missing = new Map<string, CanonicalPackage>();
    keys.forEach((k, i) => {
      if (this.#id(k) === undefined) missing.set(k, packages[i] as CanonicalPackage);
    });
    if (missing.size > 0) {
      await this.#load(trx, missing);
      const absent = [...missing].filter(([k]) => this.#id(k) === undefined);
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
    }
    return keys.map((k) => {
      const id = this.#id(k);
      if (id === undefined) throw new Error(`package ${JSON.stringify(k)} has no dictionary id`);
      return id;
    });
  }

  /** The packages of these ids. */
  async describe(trx: Kysely<Database>, ids: readonly number[]): Promise<Map<number, CanonicalPackage>> {
    const out = new Map<number, CanonicalPackage>();
    const unknown: number[] = [];
    for (const id of ids) {
      const p = this.#package(id);
      if (p === undefined) unknown.push(id);
      else out.set(id, p);
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
