import { type Kysely, PostgresAdapter } from "kysely";

/**
 * The rollout engine's own entities: a rollout per executed change, its phases, each target asset's
 * progress, the operations handed to executors (one per idempotency key), artifacts in a
 * content-addressed store, incidents, and a small table of engine-wide switches (the emergency stop).
 * Times are ISO 8601 text, as everywhere in the store.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rollouts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("change_id", "text", (c) => c.notNull().unique())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_reason", "text")
    .addColumn("plan", "text", (c) => c.notNull())
    .addColumn("current_phase", "integer", (c) => c.notNull())
    .addColumn("paused_by", "text")
    .addColumn("gate_failed_at", "text")
    .addColumn("failed_gate", "text")
    .addColumn("rollback_scope", "text")
    .addColumn("time_to_rollback_ms", "integer")
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", "text")
    .addColumn("revision", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("finished_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("rollouts_by_state").on("rollouts").column("state").execute();

  await db.schema
    .createTable("rollout_phases")
    .addColumn("rollout_id", "text", (c) => c.notNull().references("rollouts.id"))
    .addColumn("idx", "integer", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("ring", "text")
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("observe_until", "text")
    .addColumn("finished_at", "text")
    .addColumn("promoted_by", "text")
    .addColumn("gate_results", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("rollout_phases_pk", ["rollout_id", "idx"])
    .execute();

  await db.schema
    .createTable("rollout_assets")
    .addColumn("rollout_id", "text", (c) => c.notNull().references("rollouts.id"))
    .addColumn("asset_id", "text", (c) => c.notNull())
    .addColumn("asset_name", "text", (c) => c.notNull())
    .addColumn("phase_idx", "integer", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("group_name", "text", (c) => c.notNull())
    .addColumn("region", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_reason", "text")
    .addColumn("from_version", "text")
    .addColumn("to_version", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("snapshot", "text")
    .addColumn("started_at", "text")
    .addColumn("unavailable_since", "text")
    .addColumn("finished_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("rollout_assets_pk", ["rollout_id", "asset_id"])
    .execute();
  await db.schema
    .createIndex("rollout_assets_by_phase")
    .on("rollout_assets")
    .columns(["rollout_id", "phase_idx", "seq"])
    .execute();

  await db.schema
    .createTable("operations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
    .addColumn("rollout_id", "text", (c) => c.notNull().references("rollouts.id"))
    .addColumn("asset_id", "text", (c) => c.notNull())
    .addColumn("executor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("step", "text")
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("result", "text")
    .addColumn("error", "text")
    .addColumn("lease_expires_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("leased_at", "text")
    .addColumn("finished_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  // Agents long-poll for their asset's queued operations; the engine reads a rollout's open ones.
  await db.schema
    .createIndex("operations_by_asset")
    .on("operations")
    .columns(["asset_id", "state"])
    .execute();
  await db.schema
    .createIndex("operations_by_rollout")
    .on("operations")
    .columns(["rollout_id", "state"])
    .execute();

  await db.schema
    .createTable("artifacts")
    .addColumn("sha256", "text", (c) => c.primaryKey())
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("package_name", "text", (c) => c.notNull())
    .addColumn("package_version", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    // Raw bytes: bytea on PostgreSQL, blob on SQLite (the migration is the store's own code).
    .addColumn("content", db.getExecutor().adapter instanceof PostgresAdapter ? "bytea" : "blob", (c) =>
      c.notNull(),
    )
    .addColumn("signature", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("artifacts_by_package")
    .on("artifacts")
    .columns(["package_name", "package_version", "arch"])
    .execute();

  await db.schema
    .createTable("incidents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("change_id", "text", (c) => c.notNull())
    .addColumn("rollout_id", "text", (c) => c.notNull().unique())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("what_failed", "text", (c) => c.notNull())
    .addColumn("assets", "text", (c) => c.notNull())
    .addColumn("timeline", "text", (c) => c.notNull())
    .addColumn("postmortem_state", "text", (c) => c.notNull())
    .addColumn("summary", "text")
    .addColumn("closed_by", "text")
    .addColumn("closed_at", "text")
    .addColumn("opened_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("engine_switches")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("set_by", "text", (c) => c.notNull())
    .addColumn("set_at", "text", (c) => c.notNull())
    .execute();

  await db.schema.alterTable("change_requests").addColumn("rollout_id", "text").execute();
}
