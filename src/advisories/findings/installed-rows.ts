/**
 * Reading installed packages for a re-match: all of an asset's, those filed under some advisory keys
 * across the fleet, or the whole fleet in two passes (distinct package versions first, then only the
 * rows of the affected ones).
 */
import { CompiledQuery, type Kysely, sql } from "kysely";
import { capabilitiesOf } from "../../store/capabilities.js";
import { TemporaryTable, type TemporaryTableSpec } from "../../store/raw-sql.js";
import type { Database, InstalledPackagesTable } from "../../store/schema.js";
import { ecosystemParts, matchName } from "../matching/ecosystem-key.js";
import type { AdvisoryKey } from "./advisory-loader.js";

export type InstalledRow = Omit<InstalledPackagesTable, "purl">;

/** One distinct package version of the fleet: what the matcher evaluates. */
export type PackageVersion = Omit<InstalledRow, "asset_id" | "arch">;

const NAMES_PER_QUERY = 500;
const ROWS_PER_INSERT = 1000;

const ROW_COLUMNS = [
  "asset_id",
  "ecosystem",
  "name",
  "arch",
  "version",
  "source_name",
  "source_version",
] as const satisfies ReadonlyArray<keyof InstalledRow>;

/** An asset's installed rows, or only those with one of these names. */
export async function installedRowsOfAsset(
  db: Kysely<Database>,
  assetId: string,
  names?: readonly string[],
): Promise<InstalledRow[]> {
  const out: InstalledRow[] = [];
  const query = () => db.selectFrom("installed_packages").select(ROW_COLUMNS).where("asset_id", "=", assetId);
  if (names === undefined) return query().execute();
  for (let i = 0; i < names.length; i += NAMES_PER_QUERY) {
    out.push(
      ...(await query()
        .where("name", "in", names.slice(i, i + NAMES_PER_QUERY))
        .execute()),
    );
  }
  return out;
}

/** The distinct ecosystem strings installed ("Debian:12", "npm", …), by skipping along the name index. */
export async function installedEcosystems(db: Kysely<Database>): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const row = await db
      .selectFrom("installed_packages")
      .select("ecosystem")
      .where("ecosystem", ">", out.at(-1) ?? "")
      .orderBy("ecosystem")
      .limit(1)
      .executeTakeFirst();
    if (!row) return out;
    out.push(row.ecosystem);
  }
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
    const query = () =>
      db.selectFrom("installed_packages").select(ROW_COLUMNS).where("ecosystem", "=", ecosystem);
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
      keep(await query().where("source_name", "in", chunk).execute());
    }
  }
  return [...found.values()];
}

/** Every distinct package version installed in the fleet, in one scan of the table. */
export async function distinctPackageVersions(db: Kysely<Database>): Promise<PackageVersion[]> {
  // SQLite would otherwise walk the (ecosystem, name) index and fetch every row from it at random;
  // one sequential scan of the table is many times faster on a large fleet.
  const from = capabilitiesOf(db).notIndexedHint
    ? sql`installed_packages not indexed`
    : sql`installed_packages`;
  const result = await sql<PackageVersion>`
    select distinct ecosystem, name, version, source_name, source_version from ${from}`.execute(db);
  return result.rows;
}

const VERSIONS_TABLE: TemporaryTableSpec = {
  name: "rematch_versions",
  columns: [
    { name: "ecosystem", type: "text" },
    { name: "name", type: "text" },
    { name: "version", type: "text" },
    { name: "sn", type: "text" },
    { name: "sv", type: "text" },
    { name: "k", type: "integer" },
  ],
  key: ["ecosystem", "name", "version", "sn", "sv"],
};

/** An installed row of one of the given package versions: `k` is the version's position in the list. */
export interface FannedRow {
  asset_id: string;
  arch: string;
  k: number;
}

/**
 * The (asset, arch) rows of the given package versions across the fleet, in one more scan of the
 * table joined to a temporary table of the versions, so only the rows of these versions are read out.
 * Runs inside the caller's transaction (the temporary table lives on its connection). A missing source
 * and an empty one are the same here: pass each (ecosystem, name, version, source) once.
 */
export async function installedRowsOfVersions(
  trx: Kysely<Database>,
  versions: readonly PackageVersion[],
): Promise<FannedRow[]> {
  const temp = new TemporaryTable(trx, VERSIONS_TABLE);
  const table = temp.ref;
  await temp.create();
  await temp.fill(
    versions.map((v, k) => [v.ecosystem, v.name, v.version, v.source_name ?? "", v.source_version ?? "", k]),
    ROWS_PER_INSERT,
  );
  const on =
    "t.ecosystem = ip.ecosystem and t.name = ip.name and t.version = ip.version " +
    "and t.sn = coalesce(ip.source_name, '') and t.sv = coalesce(ip.source_version, '')";
  // SQLite: CROSS JOIN keeps the installed table as the outer loop, scanned once in order.
  const text = capabilitiesOf(trx).notIndexedHint
    ? `select ip.asset_id, ip.arch, t.k from installed_packages as ip not indexed cross join ${table} as t on ${on}`
    : `select ip.asset_id, ip.arch, t.k from installed_packages ip join ${table} t on ${on}`;
  const result = await trx.executeQuery<FannedRow>(CompiledQuery.raw(text, []));
  // A failed transaction rolls the temporary table back with it; only success needs the drop.
  await temp.drop();
  return result.rows.map((r) => ({ asset_id: r.asset_id, arch: r.arch, k: Number(r.k) }));
}
