import { type Kysely, sql } from "kysely";

/**
 * The notification outbox: a message is a row written in the same transaction as the state change it
 * announces, then delivered (and retried) by a worker, so nothing is lost across restarts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("outbox")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("subject_type", "text", (c) => c.notNull())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("target_name", "text", (c) => c.notNull())
    .addColumn("target_url", "text", (c) => c.notNull())
    .addColumn("format", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "text", (c) => c.notNull())
    .addColumn("claimed_until", "text")
    .addColumn("delivered_at", "text")
    .addColumn("last_error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("dead_at", "text")
    .execute();
  // Workers poll for due messages; the partial index holds only the pending ones, so it stays small
  // however many delivered messages are kept.
  await db.schema
    .createIndex("outbox_due")
    .on("outbox")
    .column("next_attempt_at")
    .where(sql.ref("delivered_at"), "is", null)
    .where(sql.ref("dead_at"), "is", null)
    .execute();
  await db.schema
    .createIndex("outbox_by_subject")
    .on("outbox")
    .columns(["subject_type", "subject_id"])
    .execute();
}
