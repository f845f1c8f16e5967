import type { Kysely } from "kysely";

/** How long enrollment tokens made before tokens had a default lifetime stay usable after the upgrade. */
const GRACE_MS = 24 * 3_600_000;

/**
 * Enrollment hardening: which assets each enrollment token enrolled, and the single-use allowances an
 * admin gives to re-enroll an existing asset (without one, enrolling as an existing asset is refused).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("enrollment_token_uses")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("token_id", "text", (c) => c.notNull().references("enrollment_tokens.id").onDelete("cascade"))
    // No foreign key on the asset: the record of who enrolled it outlives a deleted asset.
    .addColumn("asset_id", "text", (c) => c.notNull())
    .addColumn("asset_name", "text", (c) => c.notNull())
    .addColumn("reenrolled", "integer", (c) => c.notNull())
    .addColumn("enrolled_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("enrollment_token_uses_by_token")
    .on("enrollment_token_uses")
    .columns(["token_id", "enrolled_at"])
    .execute();

  await db.schema
    .createTable("asset_reenrollments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("asset_id", "text", (c) => c.notNull().references("assets.id").onDelete("cascade"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("used_at", "text")
    .addColumn("used_by_token", "text")
    .execute();
  await db.schema
    .createIndex("asset_reenrollments_by_asset")
    .on("asset_reenrollments")
    .columns(["asset_id", "expires_at"])
    .execute();

  // Tokens that never expired now do, a day after the upgrade: long enough to replace them.
  const expiresAt = new Date(Date.now() + GRACE_MS).toISOString();
  await (db as Kysely<{ enrollment_tokens: { expires_at: string | null; revoked_at: string | null } }>)
    .updateTable("enrollment_tokens")
    .set({ expires_at: expiresAt })
    .where("expires_at", "is", null)
    .where("revoked_at", "is", null)
    .execute();
}
