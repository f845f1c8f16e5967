import { type Kysely, sql } from "kysely";

/**
 * Policy proposals: a policy version someone other than an admin wants stored. It becomes a version
 * only when an approver or admin who is not its proposer approves it, as a change is approved.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("policy_proposals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("content", "text", (c) => c.notNull())
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("base_version", "integer")
    .addColumn("proposer", "text", (c) => c.notNull())
    .addColumn("proposer_principal", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("decided_by", "text")
    .addColumn("decider_principal", "text")
    .addColumn("decided_at", "text")
    .addColumn("decision_reason", "text")
    .addColumn("version", "integer")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  // Pending proposals are what approvers list; the partial index stays small however many are decided.
  await db.schema
    .createIndex("policy_proposals_pending")
    .on("policy_proposals")
    .column("created_at")
    .where(sql.ref("state"), "=", "pending")
    .execute();
}
