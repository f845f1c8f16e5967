/**
 * Builds the matcher's AdvisoryIndex from the stored advisories: every non-withdrawn advisory, or only
 * those naming some (ecosystem, name) keys.
 */
import type { Kysely } from "kysely";
import type { PackageRecord } from "../../domain/inventory.js";
import type { Database } from "../../store/schema.js";
import { type AdvisoryEntry, AdvisoryIndex } from "../matching/advisory-index.js";
import { ecosystemParts, matchName } from "../matching/ecosystem-key.js";
import type { OsvAffected } from "../osv/schema.js";

/** A canonical OSV ecosystem base ("Debian", "PyPI") and a package name as advisories spell it. */
export interface AdvisoryKey {
  ecosystem: string;
  name: string;
}

/** Names per query: keeps each statement well under both dialects' bound-parameter limits. */
const NAMES_PER_QUERY = 500;

/** Entries kept across calls at most (100,000 advisories of one release are about as many). */
const CACHED_ENTRIES = 150_000;

/**
 * The entries of each key as last read, while the advisories' version (match_inputs, bumped to a
 * random value by every write of an advisory) stays the same: an inventory report re-matches a few
 * packages, and reading and parsing their few hundred advisories again cost more than the rest of
 * its re-match. The version is random, not a count, so two stores never share one.
 */
const cache = { version: null as string | null, byKey: new Map<string, AdvisoryEntry[]>(), entries: 0 };

/** The advisories' current version; null on a store without one. */
export async function advisoriesVersion(db: Kysely<Database>): Promise<string | null> {
  const row = await db
    .selectFrom("match_inputs")
    .select("version")
    .where("name", "=", "advisories")
    .executeTakeFirst();
  return row === undefined ? null : String(row.version);
}

const cacheKey = (ecosystem: string, name: string) => `${ecosystem}\u0000${name}`;

/**
 * The keys under which advisories for these packages are filed: the package's own name and, for
 * Debian and Ubuntu (whose advisories name source packages), its source name. Ecosystems without a
 * version scheme are left out: nothing of theirs can be matched.
 */
export function advisoryKeysFor(
  packages: Iterable<Pick<PackageRecord, "ecosystem" | "name" | "sourceName">>,
): AdvisoryKey[] {
  const keys = new Map<string, AdvisoryKey>();
  const add = (ecosystem: string, name: string) => {
    const key = `${ecosystem}\u0000${matchName(ecosystem, name)}`;
    if (!keys.has(key)) keys.set(key, { ecosystem, name: matchName(ecosystem, name) });
  };
  for (const p of packages) {
    const parts = ecosystemParts(p.ecosystem);
    if (!parts.supported) continue;
    add(parts.base, p.name);
    if ((parts.base === "Debian" || parts.base === "Ubuntu") && p.sourceName) add(parts.base, p.sourceName);
  }
  return [...keys.values()];
}

interface EntryRow {
  advisory_id: string;
  ecosystem: string;
  ecosystem_release: string;
  name: string;
  affected: string;
  aliases: string;
  modified: string;
  severity_score: number | null;
  severity_vector: string | null;
  severity_version: string | null;
}

/**
 * The index of every non-withdrawn advisory, or of those filed under `keys` (canonical ecosystem and
 * name; see advisoryKeysFor). PyPI names are compared normalised (PEP 503), as the matcher does.
 */
export async function loadAdvisoryIndex(
  db: Kysely<Database>,
  keys?: readonly AdvisoryKey[],
): Promise<AdvisoryIndex> {
  const index = new AdvisoryIndex();
  // Aliases are shared by every affected[] entry of a record: parse each record's list once.
  const aliasCache = new Map<string, string[]>();
  const entryOf = (row: EntryRow): AdvisoryEntry => {
    let aliases = aliasCache.get(row.advisory_id);
    if (aliases === undefined) {
      aliases = JSON.parse(row.aliases) as string[];
      aliasCache.set(row.advisory_id, aliases);
    }
    return {
      id: row.advisory_id,
      aliases,
      modified: row.modified,
      severity: {
        score: row.severity_score === null ? null : Number(row.severity_score),
        vector: row.severity_vector,
        version: row.severity_version,
      },
      affected: JSON.parse(row.affected) as OsvAffected,
      ecosystem: row.ecosystem,
      ecosystemRelease: row.ecosystem_release,
      name: row.name,
    };
  };
  const add = (rows: readonly EntryRow[]) => {
    for (const row of rows) index.add(entryOf(row));
  };
  const query = () =>
    db
      .selectFrom("advisory_packages as ap")
      .innerJoin("advisories as a", "a.id", "ap.advisory_id")
      .select([
        "ap.advisory_id",
        "ap.ecosystem",
        "ap.ecosystem_release",
        "ap.name",
        "ap.affected",
        "a.aliases",
        "a.modified",
        "a.severity_score",
        "a.severity_vector",
        "a.severity_version",
      ])
      .where("a.withdrawn", "is", null);

  if (keys === undefined) {
    add(await query().execute());
    return index;
  }
  const version = await advisoriesVersion(db);
  if (version === null || version !== cache.version) {
    cache.byKey.clear();
    cache.entries = 0;
    cache.version = version;
  }
  const byEcosystem = new Map<string, Set<string>>();
  for (const k of keys) {
    const cached = version === null ? undefined : cache.byKey.get(cacheKey(k.ecosystem, k.name));
    if (cached !== undefined) {
      for (const e of cached) index.add(e);
      continue;
    }
    const names = byEcosystem.get(k.ecosystem) ?? new Set<string>();
    names.add(k.name);
    byEcosystem.set(k.ecosystem, names);
  }
  const fresh = new Map<string, AdvisoryEntry[]>();
  for (const [ecosystem, nameSet] of byEcosystem) {
    for (const name of nameSet) fresh.set(cacheKey(ecosystem, name), []);
    const names = [...nameSet];
    for (let i = 0; i < names.length; i += NAMES_PER_QUERY) {
      const chunk = names.slice(i, i + NAMES_PER_QUERY);
      let rows: EntryRow[];
      if (ecosystem === "PyPI") {
        // Records spell PyPI names as they like ("Django", "zope.interface"); compare them normalised.
        // Runs of separators ("a__b") are not collapsed here, a corner no published name uses.
        rows = (
          await query()
            .where("ap.ecosystem", "=", ecosystem)
            .where((eb) =>
              eb(
                eb.fn("lower", [
                  eb.fn("replace", [
                    eb.fn("replace", ["ap.name", eb.val("_"), eb.val("-")]),
                    eb.val("."),
                    eb.val("-"),
                  ]),
                ]),
                "in",
                chunk,
              ),
            )
            .execute()
        ).filter((r) => nameSet.has(matchName("PyPI", r.name)));
      } else {
        rows = await query().where("ap.ecosystem", "=", ecosystem).where("ap.name", "in", chunk).execute();
      }
      for (const row of rows) {
        const entry = entryOf(row);
        index.add(entry);
        const name = ecosystem === "PyPI" ? matchName("PyPI", row.name) : row.name;
        fresh.get(cacheKey(ecosystem, name))?.push(entry);
      }
    }
  }
  // Kept only when no advisory was written meanwhile (the rows then belong to this version).
  if (version !== null && fresh.size > 0 && (await advisoriesVersion(db)) === version) {
    for (const [key, entries] of fresh) {
      if (cache.entries + entries.length > CACHED_ENTRIES) break;
      cache.byKey.set(key, entries);
      cache.entries += entries.length;
    }
  }
  return index;
}
