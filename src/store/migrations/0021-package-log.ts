import { type Kysely, sql } from "kysely";
import { capabilitiesOf } from "../capabilities.js";
import type { Database } from "../schema.js";

/**
 * Reports stop writing the inverted index (`asset_packages`, keyed package then set) directly: at
 * 2,000 sets each report's 600 rows land on as many leaf pages across the whole index, and those
 * pages are what a commit writes. A report appends its rows to `asset_package_log` instead, with the
 * same key but a table that holds only what is not merged yet (a few reports' worth, so a handful of
 * pages), and a background merge moves them into the index in large sorted batches (see
 * src/inventory/package-log.ts). A log row overrides the index: `present` 1 adds the pair, 0 removes
 * it. `set_packages` is what every reader joins: the index less the pairs the log overrides, plus the
 * pairs the log adds; a merge changes no answer of it. `installed_packages` reads through it. The
 * index's side is a left join, not `not exists`: SQLite then keeps a reader's `cross join` order when
 * it flattens the view into the reader (with `not exists` it scanned the whole index first, 15× slower
 * in the fleet re-match's range walk).
 */
/** Code before it writes the index directly and reads no log. */
export const breaking = true;

export async function up(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  await db.schema
    .createTable("asset_package_log")
    .addColumn("package_id", "integer", (c) => c.notNull())
    .addColumn("set_num", "integer", (c) => c.notNull())
    .addColumn("present", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("asset_package_log_pk", ["package_id", "set_num"])
    .$call((b) => (caps.withoutRowid ? b.modifyEnd(sql`without rowid`) : b))
    .execute();
  await sql`
    create view set_packages as
    select ap.package_id as package_id, ap.set_num as set_num from asset_packages ap
    left join asset_package_log l on l.package_id = ap.package_id and l.set_num = ap.set_num
    where l.present is null
    union all
    select l.package_id as package_id, l.set_num as set_num from asset_package_log l where l.present = 1`.execute(
    db,
  );
  await sql`drop view installed_packages`.execute(db);
  await sql`
    create view installed_packages as
    select ps.asset_id as asset_id, p.ecosystem as ecosystem, p.name as name, p.version as version,
           p.arch as arch, p.source_name as source_name, p.source_version as source_version,
           nullif(p.purl, '') as purl
    from set_packages ap
    join package_sets ps on ps.num = ap.set_num
    join packages p on p.id = ap.package_id`.execute(db);
}
