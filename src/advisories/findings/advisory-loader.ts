/**
 * Builds the matcher's AdvisoryIndex from the stored advisories: every non-withdrawn advisory, or only
 * those naming some (ecosystem, name) keys.
 */
import type { Kysely } from "kysely";
import type { PackageRecord } from "../../domain/inventory.js";
import type { Database } from "../../store/schema.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { ecosystemParts, matchName } from "../matching/ecosystem-key.js";
import type { OsvAffected } from "../osv/schema.js";

/** A canonical OSV ecosystem base ("Debian", "PyPI") and a package name as advisories spell it. */
export interface AdvisoryKey {
  ecosystem: string;
  name: string;
}

/** Names per query: keeps each statement well under both dialects' bound-parameter limits. */
const NAMES_PER_QUERY = 500;

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
  const add = (rows: readonly EntryRow[]) => {
    for (const row of rows) {
      let aliases = aliasCache.get(row.advisory_id);
      if (aliases === undefined) {
        aliases = JSON.parse(row.aliases) as string[];
        aliasCache.set(row.advisory_id, aliases);
      }
      index.add({
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
      });
    }
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
  const byEcosystem = new Map<string, Set<string>>();
  for (const k of keys) {
    const names = byEcosystem.get(k.ecosystem) ?? new Set<string>();
    names.add(k.name);
    byEcosystem.set(k.ecosystem, names);
  }
  for (const [ecosystem, nameSet] of byEcosystem) {
    const names = [...nameSet];
    for (let i = 0; i < names.length; i += NAMES_PER_QUERY) {
      const chunk = names.slice(i, i + NAMES_PER_QUERY);
      if (ecosystem === "PyPI") {
        // Records spell PyPI names as they like ("Django", "zope.interface"); compare them normalised.
        // Runs of separators ("a__b") are not collapsed here, a corner no published name uses.
        const rows = await query()
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
          .execute();
        add(rows.filter((r) => nameSet.has(matchName("PyPI", r.name))));
      } else {
        add(await query().where("ap.ecosystem", "=", ecosystem).where("ap.name", "in", chunk).execute());
      }
    }
  }
  return index;
}
