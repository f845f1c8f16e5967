import type { Kysely } from "kysely";

/**
 * Versioned policies, change requests and their approvals.
 *
 * The rollout engine picks a change up by these columns of change_requests alone: `state`
 * ('scheduled' → it moves it to 'running' and on to 'completed' / 'rolled-back' / 'failed'),
 * `scheduled_start` (not before), `plan` (the frozen Plan JSON it executes phase by phase) and
 * `policy_name` + `policy_version` + `policy_hash` (the exact policy row it must enforce).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("policies")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("content", "text", (c) => c.notNull())
    .addColumn("author", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("policies_name_version", ["name", "version"])
    .execute();

  await db.schema
    .createTable("change_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("package_name", "text", (c) => c.notNull())
    .addColumn("package_version", "text", (c) => c.notNull())
    .addColumn("artifact_name", "text")
    .addColumn("artifact_sha256", "text")
    .addColumn("source", "text")
    .addColumn("advisories", "text", (c) => c.notNull())
    .addColumn("ticket", "text")
    .addColumn("selector", "text", (c) => c.notNull())
    .addColumn("class", "text", (c) => c.notNull())
    .addColumn("emergency", "integer", (c) => c.notNull())
    .addColumn("policy_name", "text", (c) => c.notNull())
    .addColumn("policy_version", "integer", (c) => c.notNull())
    .addColumn("policy_hash", "text", (c) => c.notNull())
    .addColumn("justification", "text", (c) => c.notNull())
    .addColumn("risk_notes", "text")
    .addColumn("rollback_notes", "text")
    .addColumn("requester", "text", (c) => c.notNull())
    .addColumn("requester_name", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_reason", "text")
    .addColumn("approval_rule", "text")
    .addColumn("plan", "text")
    .addColumn("scheduled_start", "text")
    .addColumn("override_approver", "text")
    .addColumn("review_state", "text", (c) => c.notNull())
    .addColumn("review_due_at", "text")
    .addColumn("reviewed_by", "text")
    .addColumn("reviewed_at", "text")
    .addColumn("review_reason", "text")
    .addColumn("starting_soon_for", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  // The rollout engine and the reminder loop look for scheduled changes by start time.
  await db.schema
    .createIndex("change_requests_by_state")
    .on("change_requests")
    .columns(["state", "scheduled_start"])
    .execute();

  await db.schema
    .createTable("approvals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("change_id", "text", (c) => c.notNull().references("change_requests.id").onDelete("cascade"))
    .addColumn("decision", "text", (c) => c.notNull())
    .addColumn("approver", "text", (c) => c.notNull())
    .addColumn("approver_name", "text", (c) => c.notNull())
    .addColumn("approver_role", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text")
    .execute();
  await db.schema.createIndex("approvals_by_change").on("approvals").columns(["change_id"]).execute();
}
