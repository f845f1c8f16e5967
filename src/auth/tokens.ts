import { randomUUID } from "node:crypto";
import { appendAudit } from "../audit/log.js";
import { AuthError, NotFoundError, ValidationError } from "../domain/errors.js";
import { type Actor, actorLabel, isRole, type Role, SYSTEM_ACTOR } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { hashSecret, newSecret } from "./secrets.js";

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: Role | "agent";
  kind: "user" | "agent";
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Only this call ever sees the token: it is stored hashed and cannot be shown again. */
export interface CreatedToken {
  id: string;
  token: string;
}

/** Last-used times are written at most this often per token, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function createApiToken(
  ctx: ServiceContext,
  actor: Actor,
  input: { name: string; role: string },
  fixedToken?: string,
): Promise<CreatedToken> {
  if (!isRole(input.role)) {
    throw new ValidationError(`unknown role "${input.role}": use viewer, operator, approver or admin`, {
      where: "/role",
    });
  }
  if (input.name.trim() === "" || input.name.length > 100) {
    throw new ValidationError("a token name is 1–100 characters", { where: "/name" });
  }
  const token = fixedToken ?? newSecret("apt");
  const id = randomUUID();
  const now = ctx.now();
  await ctx.store.write(async (trx) => {
    await trx
      .insertInto("api_tokens")
      .values({
        id,
        name: input.name,
        role: input.role,
        token_hash: hashSecret(token),
        kind: "user",
        asset_id: null,
        created_at: now.toISOString(),
        created_by: actorLabel(actor),
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "token.created",
        targetType: "token",
        targetId: id,
        data: { name: input.name, role: input.role },
      },
      now,
    );
  });
  return { id, token };
}

export async function listApiTokens(ctx: ServiceContext): Promise<ApiTokenInfo[]> {
  const rows = await ctx.store.db.selectFrom("api_tokens").selectAll().orderBy("created_at").execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    role: r.role as Role | "agent",
    kind: r.kind as "user" | "agent",
    createdAt: r.created_at,
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

export async function revokeApiToken(ctx: ServiceContext, actor: Actor, id: string): Promise<void> {
  const now = ctx.now();
  await ctx.store.write(async (trx) => {
    const row = await trx
      .selectFrom("api_tokens")
      .select(["id", "name", "revoked_at"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no token with id ${id}`);
    if (row.revoked_at) return;
    await trx.updateTable("api_tokens").set({ revoked_at: now.toISOString() }).where("id", "=", id).execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "token.revoked",
        targetType: "token",
        targetId: id,
        data: { name: row.name },
      },
      now,
    );
  });
}

/**
 * On first start with no user tokens, creates an admin token: the given one (AUTOPATCH_ADMIN_TOKEN)
 * or a new random one, which the caller prints once. Returns null when tokens exist already.
 */
export async function bootstrapAdminToken(ctx: ServiceContext, given?: string): Promise<CreatedToken | null> {
  const existing = await ctx.store.db
    .selectFrom("api_tokens")
    .select("id")
    .where("kind", "=", "user")
    .limit(1)
    .executeTakeFirst();
  if (existing) return null;
  if (given !== undefined && given.length < 16) {
    throw new ValidationError("AUTOPATCH_ADMIN_TOKEN must be at least 16 characters", {
      where: "AUTOPATCH_ADMIN_TOKEN",
    });
  }
  return createApiToken(ctx, SYSTEM_ACTOR, { name: "bootstrap-admin", role: "admin" }, given);
}

/** Resolves a bearer token to who holds it; throws unauthenticated for unknown or revoked tokens. */
export async function authenticate(ctx: ServiceContext, bearer: string): Promise<Actor> {
  const row = await ctx.store.db
    .selectFrom("api_tokens")
    .select(["id", "name", "role", "kind", "asset_id", "revoked_at", "last_used_at"])
    .where("token_hash", "=", hashSecret(bearer))
    .executeTakeFirst();
  if (!row || row.revoked_at) throw new AuthError("unauthenticated", "the token is unknown or revoked");
  const now = ctx.now();
  if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
    await ctx.store.db
      .updateTable("api_tokens")
      .set({ last_used_at: now.toISOString() })
      .where("id", "=", row.id)
      .execute();
  }
  if (row.kind === "agent") {
    return {
      kind: "agent",
      id: row.id,
      name: row.name,
      principal: `agent:${row.asset_id ?? row.id}`,
      role: null,
      assetId: row.asset_id,
    };
  }
  return {
    kind: "user",
    id: row.id,
    name: row.name,
    principal: row.name,
    role: isRole(row.role) ? row.role : "viewer",
    assetId: null,
  };
}
