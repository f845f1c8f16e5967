import type { Kysely } from "kysely";

/**
 * Work owed after a commit (the re-match after an import, later the next rollout step): a row written
 * in the same transaction as the change that owes it, drained by the work loop (see src/work/), so a
 * crash between the commit and the work leaves the work owed rather than lost.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("work_items")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    // Two commits that owe the same work name the same key and share one row.
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "text", (c) => c.notNull())
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", "text")
    .addColumn("last_error", "text")
    .addUniqueConstraint("work_items_kind_key", ["kind", "key"])
    .execute();
  await db.schema
    .createIndex("work_items_due")
    .on("work_items")
    .columns(["kind", "next_attempt_at"])
    .execute();
}
