import { type Kysely, sql } from "kysely";
import { capabilitiesOf } from "../capabilities.js";
import type { Database } from "../schema.js";

/**
 * One row whose version triggers set to a new random number whenever a credential may have lost its
 * access: a token revoked, changed or deleted (an asset's deletion takes its agent tokens along), a
 * principal disabled, renamed or deleted. A replica then trusts the credentials it checked for as long
 * as the version it reads every few seconds stands still, instead of reading each credential again
 * after a few seconds (see src/auth/credential-cache.ts). Triggers, so that every writer moves it: an
 * offline CLI, another replica, a hand-made fix. Random rather than counted, like match_inputs: a
 * restored copy never shares a version with the store it came from. Additive.
 */
const WATCHED = [
  { table: "api_tokens", columns: ["revoked_at", "role", "kind", "asset_id", "principal_id", "token_hash"] },
  { table: "principals", columns: ["disabled_at", "name"] },
] as const;

const RANDOM = {
  row: "abs(random() % 9007199254740991)",
  statement: "floor(random() * 9007199254740991)",
} as const;

/** A row's watched columns changed (not merely written again: taking the last-admin lock rewrites them). */
const changed = (columns: readonly string[]) =>
  columns.map((c) => `old.${c} is distinct from new.${c}`).join(" or ");

export async function up(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  await db.schema
    .createTable("credential_version")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("version", "bigint", (c) => c.notNull())
    .execute();
  await sql`insert into credential_version (id, version) values (1, ${sql.raw(RANDOM[caps.triggers])})`.execute(
    db,
  );
  if (caps.triggers === "statement") {
    await sql`
      create or replace function credential_version_bump() returns trigger language plpgsql as $$
      begin
        update credential_version set version = floor(random() * 9007199254740991) where id = 1;
        return null;
      end $$`.execute(db);
    // Per row, with a condition, so that a statement that changes nothing watched moves nothing; these
    // writes are rare. TRUNCATE has statement triggers only.
    for (const { table, columns } of WATCHED) {
      const run = "execute function credential_version_bump()";
      await sql
        .raw(
          `create trigger ${table}_credential_version_update after update of ${columns.join(", ")} on ${table} ` +
            `for each row when (${changed(columns)}) ${run}`,
        )
        .execute(db);
      await sql
        .raw(`create trigger ${table}_credential_version_delete after delete on ${table} for each row ${run}`)
        .execute(db);
      await sql
        .raw(
          `create trigger ${table}_credential_version_truncate after truncate on ${table} for each statement ${run}`,
        )
        .execute(db);
    }
    return;
  }
  const bump = `begin update credential_version set version = ${RANDOM.row} where id = 1; end`;
  for (const { table, columns } of WATCHED) {
    await sql
      .raw(
        `create trigger ${table}_credential_version_update after update of ${columns.join(", ")} on ${table} ` +
          `when ${changed(columns).replaceAll("is distinct from", "is not")} ${bump}`,
      )
      .execute(db);
    await sql
      .raw(`create trigger ${table}_credential_version_delete after delete on ${table} ${bump}`)
      .execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const caps = capabilitiesOf(db as unknown as Kysely<Database>);
  const ops = caps.triggers === "statement" ? ["update", "delete", "truncate"] : ["update", "delete"];
  for (const { table } of WATCHED)
    for (const op of ops)
      await sql
        .raw(
          `drop trigger ${table}_credential_version_${op}${caps.triggers === "statement" ? ` on ${table}` : ""}`,
        )
        .execute(db);
  if (caps.triggers === "statement") await sql`drop function credential_version_bump()`.execute(db);
  await db.schema.dropTable("credential_version").execute();
}
