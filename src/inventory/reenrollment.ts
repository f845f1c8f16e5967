import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { appendAudit } from "../audit/log.js";
import { NotFoundError, reasonError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";
import { findAssetRow } from "./assets.js";

/** A reinstalled host has a day to enroll again unless the admin says otherwise. */
export const DEFAULT_REENROLL_TTL_SECONDS = 24 * 3600;
export const MAX_REENROLL_TTL_SECONDS = 7 * 24 * 3600;

export interface ReenrollmentAllowance {
  id: string;
  asset: string;
  expiresAt: string;
}

/**
 * Lets one agent enroll as an existing asset (a reinstalled host): single-use, until it expires.
 * Without it, enrolling under an existing asset's name is refused, so an enrollment token can never
 * take an asset over. A new allowance replaces an unused earlier one.
 */
export async function allowReenrollment(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  options: { ttlSeconds?: number } = {},
): Promise<ReenrollmentAllowance> {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_REENROLL_TTL_SECONDS;
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_REENROLL_TTL_SECONDS) {
    throw reasonError(
      "enroll.ttl-out-of-range",
      `the allowance lasts a whole number of seconds from 1 to ${MAX_REENROLL_TTL_SECONDS} (a week)`,
      { where: "/ttlSeconds" },
    );
  }
  const now = ctx.now();
  const at = now.toISOString();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
  return ctx.store.write(async (trx) => {
    const asset = await findAssetRow(trx, name);
    if (!asset) throw new NotFoundError(`no asset named "${name}"`, { where: "/name" });
    await trx
      .updateTable("asset_reenrollments")
      .set({ expires_at: at })
      .where("asset_id", "=", asset.id)
      .where("used_at", "is", null)
      .where("expires_at", ">", at)
      .execute();
    const id = randomUUID();
    await trx
      .insertInto("asset_reenrollments")
      .values({
        id,
        asset_id: asset.id,
        created_at: at,
        created_by: actorLabel(actor),
        expires_at: expiresAt,
        used_at: null,
        used_by_token: null,
      })
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "asset.reenrollment-allowed",
        targetType: "asset",
        targetId: asset.id,
        data: { asset: asset.name, allowance: id, expiresAt },
      },
      now,
    );
    return { id, asset: asset.name, expiresAt };
  });
}

/**
 * Uses the asset's open allowance for an enrollment, inside the enrolling transaction. The
 * conditional update lets exactly one of two concurrent enrollments have it.
 */
export async function takeReenrollment(
  trx: Kysely<Database>,
  assetId: string,
  enrollmentTokenId: string,
  now: Date,
): Promise<string | null> {
  const at = now.toISOString();
  const open = await trx
    .selectFrom("asset_reenrollments")
    .select("id")
    .where("asset_id", "=", assetId)
    .where("used_at", "is", null)
    .where("expires_at", ">", at)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  if (!open) return null;
  const taken = await trx
    .updateTable("asset_reenrollments")
    .set({ used_at: at, used_by_token: enrollmentTokenId })
    .where("id", "=", open.id)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(taken.numUpdatedRows) === 1 ? open.id : null;
}
