import { randomUUID } from "node:crypto";
import type { EnrollRequest, EnrollResponse } from "../agent/protocol.js";
import { appendAudit } from "../audit/log.js";
import { AuthError, reasonError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { markAgentSeen } from "../inventory/agents.js";
import { findAssetRow, insertAsset } from "../inventory/assets.js";
import { takeReenrollment } from "../inventory/reenrollment.js";
import type { ServiceContext } from "../service/context.js";
import { isUniqueViolation } from "../store/unique-violation.js";
import { forgetCredentials } from "./credential-cache.js";
import { consumeEnrollmentToken, usableEnrollmentToken } from "./enrollment-tokens.js";
import { hashSecret, newSecret } from "./secrets.js";

function assetExists(name: string) {
  return reasonError(
    "enroll.asset-exists",
    `an asset named "${name}" exists already; an admin can allow one agent to enroll as it with ` +
      `\`autopatch assets reenroll ${name}\``,
    { where: "/name" },
  );
}

/**
 * Exchanges an enrollment token for an agent credential bound to one asset. A new name creates the
 * asset with the request's placement. An existing name is refused unless an admin allowed its
 * re-enrollment: then the allowance is used up, the asset keeps its placement and inventory, and
 * its previous agent credentials are revoked.
 */
export async function enrollAgent(
  ctx: ServiceContext,
  enrollmentToken: string,
  request: EnrollRequest,
): Promise<EnrollResponse> {
  const now = ctx.now();
  const credential = newSecret("apa");
  const work = ctx.store.write(async (trx) => {
    const token = await usableEnrollmentToken(trx, enrollmentToken, now);
    const agentActor: Actor = {
      kind: "agent",
      id: token.id,
      name: request.name,
      principal: `enrollment:${token.id}`,
      role: null,
      assetId: null,
    };
    const existing = await findAssetRow(trx, request.name);
    const allowance = existing ? await takeReenrollment(trx, existing.id, token.id, now) : null;
    if (existing && !allowance) throw assetExists(request.name);
    if (!(await consumeEnrollmentToken(trx, token.id, now))) {
      throw new AuthError("unauthenticated", "the enrollment token is used, expired or revoked", {
        reason: "enroll.token-refused",
      });
    }
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
    await trx
      .insertInto("api_tokens")
      .values({
        id: randomUUID(),
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
    // A stale asset re-enrolled is active again, with the event a heartbeat would write.
    await markAgentSeen(trx, agentActor, asset.id, now);
    await trx
      .insertInto("enrollment_token_uses")
      .values({
        id: randomUUID(),
        token_id: token.id,
        asset_id: asset.id,
        asset_name: asset.name,
        reenrolled: existing ? 1 : 0,
        enrolled_at: now.toISOString(),
      })
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
          reenrollment: allowance,
        },
      },
      now,
    );
    return asset;
  });
  // Two agents enrolling one new name at once: the unique name lets one create it, the other is refused.
  const result = await work.catch((err: unknown) => {
    throw isUniqueViolation(err) ? assetExists(request.name) : err;
  });
  // A re-enrollment revoked the asset's previous credential.
  forgetCredentials(ctx.store);
  return {
    assetId: result.id,
    assetName: result.name,
    credential,
    heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
  };
}
