/**
 * Reading installed packages for a re-match: all of an asset's, those filed under some advisory keys
 * across the fleet, or the whole fleet in two passes (distinct package versions first, then only the
 * rows of the affected ones).
 */
import { CompiledQuery, type Kysely, sql } from "kysely";
import type { Database, InstalledPackagesTable } from "../../store/schema.js";
import { dialectOf } from "../../store/store.js";
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
  const from = dialectOf(db) === "sqlite" ? sql`installed_packages not indexed` : sql`installed_packages`;
  const result = await sql<PackageVersion>`
    select distinct ecosystem, name, version, source_name, source_version from ${from}`.execute(db);
  return result.rows;
}

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
  const postgres = dialectOf(trx) === "postgres";
  const table = postgres ? "rematch_versions" : "temp.rematch_versions";
  const run = (text: string, params: readonly unknown[] = []) =>
    trx.executeQuery(CompiledQuery.raw(text, [...params]));
  await run(`drop table if exists ${table}`);
  await run(
    `create temporary table rematch_versions (ecosystem text not null, name text not null, version text not null, ` +
      `sn text not null, sv text not null, k integer not null, primary key (ecosystem, name, version, sn, sv))` +
      (postgres ? " on commit drop" : " without rowid"),
  );
  for (let i = 0; i < versions.length; i += ROWS_PER_INSERT) {
    const chunk = versions.slice(i, i + ROWS_PER_INSERT);
    const params: unknown[] = [];
    const tuples = chunk.map((v, j) => {
      params.push(v.ecosystem, v.name, v.version, v.source_name ?? "", v.source_version ?? "", i + j);
      const n = params.length - 6;
      return postgres
        ? `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, cast($${n + 6} as integer))`
        : "(?, ?, ?, ?, ?, ?)";
    });
    await run(`insert into ${table} values ${tuples.join(", ")}`, params);
  }
  if (postgres) await run("analyze rematch_versions");
  const on =
    "t.ecosystem = ip.ecosystem and t.name = ip.name and t.version = ip.version " +
    "and t.sn = coalesce(ip.source_name, '') and t.sv = coalesce(ip.source_version, '')";
  // SQLite: CROSS JOIN keeps the installed table as the outer loop, scanned once in order.
  const text = postgres
    ? `select ip.asset_id, ip.arch, t.k from installed_packages ip join rematch_versions t on ${on}`
    : `select ip.asset_id, ip.arch, t.k from installed_packages as ip not indexed cross join ${table} as t on ${on}`;
  const result = await trx.executeQuery<FannedRow>(CompiledQuery.raw(text, []));
  // A failed transaction rolls the temporary table back with it; only success needs the drop.
  await run(`drop table ${table}`);
  return result.rows.map((r) => ({ asset_id: r.asset_id, arch: r.arch, k: Number(r.k) }));
}
