import { type Kysely, sql } from "kysely";

/**
 * Which stored policy governs what: for now one purpose, `findings` (classification and SLA due dates),
 * chosen by `policy use NAME`. A store that already has a policy named `default` keeps it for findings
 * (it was used by that name before) until an admin chooses another; without a row the built-in policy
 * governs. Additive.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("policy_selections")
    .addColumn("purpose", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("chosen_by", "text", (c) => c.notNull())
    .addColumn("chosen_at", "text", (c) => c.notNull())
    .execute();
  await sql`
    insert into policy_selections (purpose, name, chosen_by, chosen_at)
    select 'findings', 'default', 'system', min(created_at) from policies where name = 'default'
    having count(*) > 0
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("policy_selections").execute();
}
