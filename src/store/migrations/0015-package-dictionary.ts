import { type Kysely, sql } from "kysely";
import { canonicalPackage, packageContentKey, packageSetDigest } from "../../domain/package-set.js";
import { capabilitiesOf } from "../capabilities.js";
import type { Database } from "../schema.js";

/**
 * Inventory stored by distinct package instead of by row. Measured on this project's ingest workload
 * (2,000 assets × 600 packages, 8 reports per transaction, better-sqlite3, prepared statements):
 *
 *   row per package with a fleet-wide text index (the old layout)   ~29,000 rows/s through the API
 *   (asset, package) pairs, two B-trees, text asset ids             55,000–69,000 rows/s raw
 *   (asset, package) pairs, two B-trees, integer asset numbers        140,000 rows/s raw
 *   one set row per asset + (package, asset number) inverted index   740,000 rows/s raw
 *
 * So: `packages` holds each distinct package version once (never deleted: an id, once committed, names
 * the same package forever, which lets the server cache ids); `package_sets` holds one row per asset
 * with its package ids as a sorted JSON array (read and diffed in one row per report) and the digest
 * agents compare with; `asset_packages` is the inverted index, keyed package then asset number, that
 * fleet-wide look-ups and set-based matching join on. `installed_packages` becomes a view with the old
 * columns, so every existing reader keeps working.
 */
export const breaking = true;

const PAGE = 200;

export async function up(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  const key = caps.integerKey;
  await db.schema
    .createTable("packages")
    .addColumn("id", "integer", (c) =>
      key === "identity" ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
    )
    .addColumn("ecosystem", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("source_name", "text", (c) => c.notNull())
    .addColumn("source_version", "text", (c) => c.notNull())
    .addColumn("purl", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("packages_content")
    .on("packages")
    .columns(["ecosystem", "name", "arch", "version", "source_name", "source_version", "purl"])
    .unique()
    .execute();
  // The matcher and advisory imports look packages up by the name advisories use.
  await db.schema
    .createIndex("packages_by_match_name")
    .on("packages")
    .columns(["ecosystem", "source_name"])
    .execute();

  await db.schema
    .createTable("package_sets")
    .addColumn("num", "integer", (c) =>
      key === "identity" ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
    )
    .addColumn("asset_id", "text", (c) => c.notNull().unique().references("assets.id").onDelete("cascade"))
    .addColumn("package_ids", "text", (c) => c.notNull())
    .addColumn("digest", "text", (c) => c.notNull())
    .addColumn("total", "integer", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("asset_packages")
    .addColumn("package_id", "integer", (c) => c.notNull())
    .addColumn("set_num", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("asset_packages_pk", ["package_id", "set_num"])
    .$call((b) => (caps.withoutRowid ? b.modifyEnd(sql`without rowid`) : b))
    .execute();

  await copyInstalledPackages(db as unknown as Kysely<Database>);
  await sql`drop table installed_packages`.execute(db);
  await sql`
    create view installed_packages as
    select ps.asset_id as asset_id, p.ecosystem as ecosystem, p.name as name, p.version as version,
           p.arch as arch, p.source_name as source_name, p.source_version as source_version,
           nullif(p.purl, '') as purl
    from asset_packages ap
    join package_sets ps on ps.num = ap.set_num
    join packages p on p.id = ap.package_id`.execute(db);

  // One finding per installed version: an asset with three versions of a package has each one's own
  // fixed version (the offline scan's answer).
  await db.schema.dropIndex("findings_identity").execute();
  await db.schema
    .createIndex("findings_identity")
    .on("findings")
    .columns(["asset_id", "ecosystem", "package_name", "arch", "installed_version", "vuln_id"])
    .unique()
    .execute();
}

interface OldRow {
  asset_id: string;
  ecosystem: string;
  name: string;
  version: string;
  arch: string;
  source_name: string | null;
  source_version: string | null;
  purl: string | null;
}

/** The old rows, asset by asset, into the dictionary, the sets and the inverted index. */
async function copyInstalledPackages(db: Kysely<Database>): Promise<void> {
  const ids = new Map<string, number>();
  const now = new Date().toISOString();
  let after = "";
  for (;;) {
    const assets = await sql<{ asset_id: string }>`
      select distinct asset_id from installed_packages where asset_id > ${after} order by asset_id limit ${PAGE}`.execute(
      db,
    );
    if (assets.rows.length === 0) return;
    for (const { asset_id } of assets.rows) {
      const rows = await sql<OldRow>`select * from installed_packages where asset_id = ${asset_id}`.execute(
        db,
      );
      const set = rows.rows.map((r) =>
        canonicalPackage({
          ecosystem: r.ecosystem,
          name: r.name,
          version: r.version,
          arch: r.arch,
          sourceName: r.source_name,
          sourceVersion: r.source_version,
          purl: r.purl,
        }),
      );
      const packageIds: number[] = [];
      for (const p of set) {
        const k = packageContentKey(p);
        let id = ids.get(k);
        if (id === undefined) {
          const row = await sql<{ id: number }>`
            insert into packages (ecosystem, name, version, arch, source_name, source_version, purl)
            values (${p.ecosystem}, ${p.name}, ${p.version}, ${p.arch}, ${p.sourceName}, ${p.sourceVersion}, ${p.purl})
            returning id`.execute(db);
          id = Number(row.rows[0]?.id);
          ids.set(k, id);
        }
        packageIds.push(id);
      }
      packageIds.sort((a, b) => a - b);
      const inserted = await sql<{ num: number }>`
        insert into package_sets (asset_id, package_ids, digest, total, updated_at)
        values (${asset_id}, ${JSON.stringify(packageIds)}, ${packageSetDigest(set)}, ${set.length}, ${now})
        returning num`.execute(db);
      const num = Number(inserted.rows[0]?.num);
      for (const id of packageIds) {
        await sql`insert into asset_packages (package_id, set_num) values (${id}, ${num})`.execute(db);
      }
    }
    after = assets.rows.at(-1)?.asset_id ?? after;
  }
}
