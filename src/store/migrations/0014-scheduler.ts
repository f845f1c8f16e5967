import type { Kysely } from "kysely";

/**
 * Leases of the background loops that one replica at a time runs (see src/scheduler/): a row per
 * loop, taken and renewed by compare-and-set on its owner and expiry, so two replicas never run a
 * pass of the same loop at once and another takes over when the holder stops renewing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("scheduler_leases")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("acquired_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("scheduler_leases").execute();
}
