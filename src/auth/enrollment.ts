import { randomUUID } from "node:crypto";
import type { EnrollRequest, EnrollResponse } from "../agent/protocol.js";
import { appendAudit } from "../audit/log.js";
import { AuthError, ValidationError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { findAssetRow, insertAsset } from "../inventory/assets.js";
import type { ServiceContext } from "../service/context.js";
import { hashSecret, newSecret } from "./secrets.js";

export interface EnrollmentTokenOptions {
  /** A reusable token enrolls any number of agents (fleet images); a one-time token just one. */
  reusable?: boolean;
  /** Lifetime in milliseconds; none = until revoked. */
  ttlMs?: number;
}

export async function createEnrollmentToken(
  ctx: ServiceContext,
  actor: Actor,
  options: EnrollmentTokenOptions = {},
): Promise<{ id: string; token: string; expiresAt: string | null }> {
  if (options.ttlMs !== undefined && !(options.ttlMs > 0))
    throw new ValidationError("the lifetime must be positive", { where: "/ttl" });
  const token = newSecret("ape");
  const id = randomUUID();
  const now = ctx.now();
  const expiresAt = options.ttlMs ? new Date(now.getTime() + options.ttlMs).toISOString() : null;
  await ctx.store.write(async (trx) => {
    await trx
      .insertInto("enrollment_tokens")
      .values({
        id,
        token_hash: hashSecret(token),
        reusable: options.reusable ? 1 : 0,
        use_count: 0,
        created_at: now.toISOString(),
        created_by: actorLabel(actor),
        expires_at: expiresAt,
        revoked_at: null,
      })
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "enrollment-token.created",
        targetType: "enrollment-token",
        targetId: id,
        data: { reusable: Boolean(options.reusable), expiresAt },
      },
      now,
    );
  });
  return { id, token, expiresAt };
}

/**
 * Exchanges an enrollment token for an agent credential bound to one asset. Placement fields apply
 * only when the asset is new: afterwards an admin owns them. Re-enrolling an existing asset revokes
 * its previous agent credentials.
 */
export async function enrollAgent(
  ctx: ServiceContext,
  enrollmentToken: string,
  request: EnrollRequest,
): Promise<EnrollResponse> {
  const now = ctx.now();
  const credential = newSecret("apa");
  const result = await ctx.store.write(async (trx) => {
    const token = await trx
      .selectFrom("enrollment_tokens")
      .selectAll()
      .where("token_hash", "=", hashSecret(enrollmentToken))
      .executeTakeFirst();
    const usable =
      token &&
      !token.revoked_at &&
      (token.reusable === 1 || token.use_count === 0) &&
      (!token.expires_at || Date.parse(token.expires_at) > now.getTime());
    if (!token || !usable)
      throw new AuthError("unauthenticated", "the enrollment token is unknown, used, expired or revoked");
    await trx
      .updateTable("enrollment_tokens")
      .set({ use_count: token.use_count + 1 })
      .where("id", "=", token.id)
      .execute();

    const agentActor: Actor = {
      kind: "agent",
      id: token.id,
      name: request.name,
      principal: `enrollment:${token.id}`,
      role: null,
      assetId: null,
    };
    const existing = await findAssetRow(trx, request.name);
    const asset = existing
      ? { id: existing.id, name: existing.name }
      : await insertAsset(
          trx,
          agentActor,
          request.name,
          {
            kind: request.kind,
            environment: request.environment,
            group: request.group,
            region: request.region,
            labels: request.labels,
          },
          now,
          "active",
        );
    await trx
      .updateTable("api_tokens")
      .set({ revoked_at: now.toISOString() })
      .where("asset_id", "=", asset.id)
      .where("kind", "=", "agent")
      .where("revoked_at", "is", null)
      .execute();
    const credentialId = randomUUID();
    await trx
      .insertInto("api_tokens")
      .values({
        id: credentialId,
        name: request.name,
        role: "agent",
        token_hash: hashSecret(credential),
        kind: "agent",
        asset_id: asset.id,
        created_at: now.toISOString(),
        created_by: `enrollment-token:${token.id}`,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    await trx
      .updateTable("assets")
      .set({ agent_status: "active", last_seen_at: now.toISOString() })
      .where("id", "=", asset.id)
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(agentActor),
        action: "agent.enrolled",
        targetType: "asset",
        targetId: asset.id,
        data: {
          asset: asset.name,
          hostname: request.hostname ?? null,
          enrollmentToken: token.id,
          reenrolled: Boolean(existing),
        },
      },
      now,
    );
    return asset;
  });
  return {
    assetId: result.id,
    assetName: result.name,
    credential,
    heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
  };
}
