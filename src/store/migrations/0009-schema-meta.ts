import type { Kysely } from "kysely";

/**
 * Which applied migrations are breaking: an older autopatch opens a store that a newer one migrated
 * only while every migration it does not know is recorded here as not breaking (see migrate.ts).
 * Rows are written after migrating, for every applied migration the writing build knows.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("schema_meta")
    .addColumn("migration", "text", (c) => c.primaryKey())
    .addColumn("breaking", "integer", (c) => c.notNull())
    .addColumn("recorded_at", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("schema_meta").execute();
}
