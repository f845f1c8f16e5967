import { type Kysely, sql } from "kysely";
import { capabilitiesOf } from "../capabilities.js";
import type { Database } from "../schema.js";

/**
 * What the last full re-match matched each package set against, so that a re-match when nothing moved
 * skips the set instead of comparing its findings again. Additive.
 *
 * `match_inputs` holds one version per input table group, set to a new random number by triggers in
 * the writing transaction: every write path (imports, their owed work, a restore, a hand-made fix)
 * moves it, and reading it costs one row instead of a scan of 100,000 advisories or EPSS scores. Random
 * rather than counted, so that two stores (or a store and its restored copy) never share a version
 * and a process may cache what it read under it.
 * Findings count as an input only when deleted (the re-match writes them itself; people change only
 * their statuses, which a re-match keeps): a deleted finding makes every set be matched again.
 * `match_state` holds, per set, the inputs key, the set's digest and the asset's risk context it was
 * matched with, and how many findings it yielded.
 */
const ALL = ["insert", "update", "delete"] as const;

/** A random version below 2^53 (exact as a JavaScript number), by trigger kind's dialect. */
const RANDOM = {
  row: "abs(random() % 9007199254740991)",
  statement: "floor(random() * 9007199254740991)",
} as const;

export const INPUT_TABLES: Record<string, ReadonlyArray<{ table: string; ops: readonly string[] }>> = {
  advisories: ["advisories", "advisory_packages", "advisory_aliases"].map((table) => ({ table, ops: ALL })),
  kev: [{ table: "kev_entries", ops: ALL }],
  epss: [{ table: "epss_scores", ops: ALL }],
  findings: [{ table: "findings", ops: ["delete"] }],
};

export async function up(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  await db.schema
    .createTable("match_inputs")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("version", "bigint", (c) => c.notNull())
    .execute();
  for (const name of Object.keys(INPUT_TABLES))
    await sql`insert into match_inputs (name, version) values (${name}, ${sql.raw(RANDOM[caps.triggers])})`.execute(
      db,
    );
  if (caps.triggers === "statement") {
    await sql`
      create or replace function match_input_bump() returns trigger language plpgsql as $$
      begin
        update match_inputs set version = floor(random() * 9007199254740991) where name = TG_ARGV[0];
        return null;
      end $$`.execute(db);
  }
  for (const [name, tables] of Object.entries(INPUT_TABLES)) {
    for (const { table, ops } of tables) {
      if (caps.triggers === "statement") {
        // Once per statement: an EPSS file of 300,000 rows bumps the counter once, not per row.
        await sql
          .raw(
            `create trigger ${table}_match_input after ${[...ops, "truncate"].join(" or ")} on ${table} ` +
              `for each statement execute function match_input_bump('${name}')`,
          )
          .execute(db);
      } else {
        for (const op of ops) {
          await sql
            .raw(
              `create trigger ${table}_match_input_${op} after ${op} on ${table} ` +
                `begin update match_inputs set version = ${RANDOM.row} where name = '${name}'; end`,
            )
            .execute(db);
        }
      }
    }
  }
  await db.schema
    .createTable("match_state")
    .addColumn("set_num", "integer", (c) => c.primaryKey())
    .addColumn("inputs", "text", (c) => c.notNull())
    .addColumn("digest", "text", (c) => c.notNull())
    .addColumn("context", "text", (c) => c.notNull())
    .addColumn("findings", "integer", (c) => c.notNull())
    .addColumn("matched_at", "text", (c) => c.notNull())
    .execute();
  // "Which assets have CVE-X": the counts per status and the distinct assets come from the index alone.
  await db.schema.dropIndex("findings_by_vuln").execute();
  await db.schema
    .createIndex("findings_by_vuln")
    .on("findings")
    .columns(["vuln_id", "status", "asset_id"])
    .execute();
  // A re-match that skips a set still reopens its findings whose acceptance or statement expired.
  await sql`create index findings_expiring on findings (status_expires_at) where status_expires_at is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  await sql`drop index findings_expiring`.execute(db);
  await db.schema.dropIndex("findings_by_vuln").execute();
  await db.schema.createIndex("findings_by_vuln").on("findings").columns(["vuln_id"]).execute();
  await db.schema.dropTable("match_state").execute();
  for (const tables of Object.values(INPUT_TABLES)) {
    for (const { table, ops } of tables) {
      if (caps.triggers === "statement")
        await sql.raw(`drop trigger ${table}_match_input on ${table}`).execute(db);
      else for (const op of ops) await sql.raw(`drop trigger ${table}_match_input_${op}`).execute(db);
    }
  }
  if (caps.triggers === "statement") await sql`drop function match_input_bump()`.execute(db);
  await db.schema.dropTable("match_inputs").execute();
}
