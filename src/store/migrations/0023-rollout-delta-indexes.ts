import type { Kysely } from "kysely";

/**
 * The engine reads a rollout's asset and operation rows written since its last pass (by `updated_at`,
 * src/rollout/rollout-rows.ts). Without an index that names it, each such read walked every row of the
 * rollout, and `updated_at`, the last column, sits behind each row's snapshot, payload and result: a
 * read of a few rows cost as much as reading all of them, on every pass. Additive.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("rollout_assets_by_update")
    .on("rollout_assets")
    .columns(["rollout_id", "updated_at"])
    .execute();
  await db.schema
    .createIndex("operations_by_rollout_update")
    .on("operations")
    .columns(["rollout_id", "updated_at"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("operations_by_rollout_update").execute();
  await db.schema.dropIndex("rollout_assets_by_update").execute();
}
