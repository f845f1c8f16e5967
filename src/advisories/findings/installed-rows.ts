/**
 * Reading installed packages for a re-match: all of an asset's (through its package set), or those
 * filed under some advisory keys across the fleet (through the dictionary and its inverted index).
 */
import type { Kysely } from "kysely";
import { inChunks } from "../../store/chunks.js";
import type { Database, InstalledPackagesTable } from "../../store/schema.js";
import { ecosystemParts, matchName } from "../matching/ecosystem-key.js";
import type { AdvisoryKey } from "./advisory-loader.js";

export type InstalledRow = Omit<InstalledPackagesTable, "purl">;

/** One distinct package version of the fleet: what the matcher evaluates. */
export type PackageVersion = Omit<InstalledRow, "asset_id" | "arch">;

const NAMES_PER_QUERY = 500;

/** The package ids of an asset's set (see migrations/0015-package-dictionary.ts). */
async function setIds(db: Kysely<Database>, assetId: string): Promise<number[]> {
  const row = await db
    .selectFrom("package_sets")
    .select("package_ids")
    .where("asset_id", "=", assetId)
    .executeTakeFirst();
  return row === undefined ? [] : (JSON.parse(row.package_ids) as number[]);
}

const PACKAGE_COLUMNS = [
  "id",
  "ecosystem",
  "name",
  "arch",
  "version",
  "source_name",
  "source_version",
] as const;

/** An asset's installed rows, or only those with one of these names. */
export async function installedRowsOfAsset(
  db: Kysely<Database>,
  assetId: string,
  names?: readonly string[],
): Promise<InstalledRow[]> {
  const ids = await setIds(db, assetId);
  const mine = new Set(ids);
  const out: InstalledRow[] = [];
  const keep = (rows: ReadonlyArray<{ id: number } & Omit<InstalledRow, "asset_id">>) => {
    for (const { id, ...r } of rows) if (mine.has(Number(id))) out.push({ asset_id: assetId, ...r });
  };
  if (names === undefined) {
    for (const chunk of inChunks(ids, NAMES_PER_QUERY))
      keep(await db.selectFrom("packages").select(PACKAGE_COLUMNS).where("id", "in", chunk).execute());
    return out;
  }
  // A few changed names: their dictionary rows (every version in the fleet), kept if in the set. By
  // (ecosystem, name), the prefix of the dictionary's unique index.
  const ecosystems = await installedEcosystems(db);
  for (const chunk of inChunks([...new Set(names)], NAMES_PER_QUERY))
    keep(
      await db
        .selectFrom("packages")
        .select(PACKAGE_COLUMNS)
        .where("ecosystem", "in", ecosystems)
        .where("name", "in", chunk)
        .execute(),
    );
  return out;
}

/** The distinct ecosystem strings in the dictionary ("Debian:12", "npm", …). */
export async function installedEcosystems(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom("packages").select("ecosystem").distinct().execute();
  return rows.map((r) => r.ecosystem).sort();
}

/**
 * Installed rows across the fleet whose name, or for Debian and Ubuntu whose source name, is one of
 * the keys (canonical ecosystem base and name).
 */
export async function installedRowsForKeys(
  db: Kysely<Database>,
  keys: readonly AdvisoryKey[],
): Promise<InstalledRow[]> {
  const namesByBase = new Map<string, Set<string>>();
  for (const k of keys) {
    const parts = ecosystemParts(k.ecosystem);
    if (!parts.supported) continue;
    const set = namesByBase.get(parts.base) ?? new Set<string>();
    set.add(matchName(parts.base, k.name));
    namesByBase.set(parts.base, set);
  }
  const found = new Map<string, InstalledRow>();
  const keep = (rows: readonly InstalledRow[]) => {
    for (const r of rows)
      found.set(`${r.asset_id}\u0000${r.ecosystem}\u0000${r.name}\u0000${r.arch}\u0000${r.version}`, r);
  };
  for (const ecosystem of await installedEcosystems(db)) {
    const base = ecosystemParts(ecosystem).base;
    const nameSet = namesByBase.get(base);
    if (nameSet === undefined) continue;
    // Dictionary rows by name, then their assets through the inverted index.
    const query = () =>
      db
        .selectFrom("packages as p")
        .innerJoin("set_packages as ap", "ap.package_id", "p.id")
        .innerJoin("package_sets as ps", "ps.num", "ap.set_num")
        .select([
          "ps.asset_id",
          "p.ecosystem",
          "p.name",
          "p.arch",
          "p.version",
          "p.source_name",
          "p.source_version",
        ])
        .where("p.ecosystem", "=", ecosystem);
    if (base === "PyPI") {
      // Installed PyPI names are as the package spelled them; compare normalised, as the matcher does.
      keep((await query().execute()).filter((r) => nameSet.has(matchName(base, r.name))));
      continue;
    }
    const names = [...nameSet];
    for (let i = 0; i < names.length; i += NAMES_PER_QUERY) {
      const chunk = names.slice(i, i + NAMES_PER_QUERY);
      // source_name is the name advisories use (the Debian source package, else the package's own
      // name; see replaceInventory), and the one indexed column for this look-up.
      keep(await query().where("p.source_name", "in", chunk).execute());
    }
  }
  return [...found.values()];
}
