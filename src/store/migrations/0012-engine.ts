import type { Kysely } from "kysely";

/**
 * What the rollout engine needs beyond 0011: when the current pause began (the engine notices an
 * operator's pause on its next pass and announces it once), and how long a phase has been paused in
 * total, so that a pause (a closed window, an emergency stop) does not count against its progress
 * deadline. Additive: both are nullable.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("rollouts").addColumn("paused_since", "text").execute();
  await db.schema.alterTable("rollout_phases").addColumn("paused_ms", "integer").execute();
}
