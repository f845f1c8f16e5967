import { randomUUID } from "node:crypto";
import type { CompiledQuery, InferResult, Kysely } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { AuthError, isAppError, reasonError, ValidationError } from "../domain/errors.js";
import { normaliseName } from "../domain/names.js";
import { type Actor, actorLabel, isRole, ROLES, type Role, SYSTEM_ACTOR } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";
import { isUniqueViolation } from "../store/unique-violation.js";
import {
  checkCredentials,
  credentialGeneration,
  credentialsChecked,
  forgetCredentials,
  rememberCredential,
  rememberedCredential,
} from "./credential-cache.js";
import { refuseLastAdmin } from "./last-admin.js";
import { noteTokenUse } from "./last-used.js";
import { BOOTSTRAP_PRINCIPAL, ensurePrincipal, principalName } from "./principals.js";
import { hashSecret, newSecret } from "./secrets.js";

/** A token as listed: never the secret. The one schema of its shape (routes publish it). */
export const apiTokenInfoSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum([...ROLES, "agent"]),
    kind: z.enum(["user", "agent"]),
    /** The principal a user token belongs to; null for agent credentials. */
    principal: z.string().nullable(),
    createdAt: z.string(),
    createdBy: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: "ApiToken" });

export type ApiTokenInfo = z.infer<typeof apiTokenInfoSchema>;

/** Only this call ever sees the token: it is stored hashed and cannot be shown again. */
export interface CreatedToken {
  id: string;
  token: string;
  /** The token's name and principal as stored (normalised). */
  name: string;
  principal: string;
}

export interface TokenInput {
  name: string;
  role: string;
  /** The principal the token belongs to (created when missing); the principal named `name` when absent. */
  principal?: string | undefined;
}

export interface CreateOptions {
  /** The token to store instead of a new random one (AUTOPATCH_ADMIN_TOKEN). */
  token?: string;
  /** More facts for the audit event, e.g. that it was created offline and by whom. */
  auditData?: Record<string, unknown>;
}

/** The name of the server's first admin token; it belongs to the principal `admin`. */
export const BOOTSTRAP_TOKEN_NAME = "bootstrap-admin";

/** Last-used times are written at most this often per token, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function tokenName(raw: string, where: string): string {
  return normaliseName(raw, { what: "token name", where, reason: "token.invalid-name" });
}

function duplicateName(name: string, principal: string): Error {
  return reasonError(
    "token.duplicate-name",
    `principal "${principal}" has an active token named "${name}" already; pick another name or revoke that one`,
    { where: "/name" },
  );
}

export async function createApiToken(
  ctx: ServiceContext,
  actor: Actor,
  input: TokenInput,
  options: CreateOptions = {},
): Promise<CreatedToken> {
  if (!isRole(input.role)) {
    throw new ValidationError(`unknown role "${input.role}": use viewer, operator, approver or admin`, {
      where: "/role",
    });
  }
  const role = input.role;
  const name = tokenName(input.name, "/name");
  const principal =
    input.principal === undefined
      ? principalName(input.name, "/name")
      : principalName(input.principal, "/principal");
  const token = options.token ?? newSecret("apt");
  const id = randomUUID();
  try {
    await ctx.store.write(async (trx) => {
      const now = ctx.now();
      const owner = await ensurePrincipal(trx, actor, principal, "person", now);
      if (owner.disabledAt !== null) {
        throw reasonError(
          "principal.disabled",
          `principal "${principal}" is disabled since ${owner.disabledAt}`,
          {
            where: input.principal === undefined ? "/name" : "/principal",
          },
        );
      }
      const clash = await trx
        .selectFrom("api_tokens")
        .select("id")
        .where("principal_id", "=", owner.id)
        .where("name", "=", name)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (clash) throw duplicateName(name, principal);
      await trx
        .insertInto("api_tokens")
        .values({
          id,
          name,
          role,
          token_hash: hashSecret(token),
          kind: "user",
          asset_id: null,
          principal_id: owner.id,
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
          data: { name, role, principal, ...options.auditData },
        },
        now,
      );
    });
  } catch (err) {
    // Two writers creating the same name at once: the unique index lets one win.
    if (isUniqueViolation(err)) throw duplicateName(name, principal);
    throw err;
  }
  return { id, token, name, principal };
}

export async function listApiTokens(ctx: ServiceContext): Promise<ApiTokenInfo[]> {
  const rows = await ctx.store.db
    .selectFrom("api_tokens as t")
    .leftJoin("principals as p", "p.id", "t.principal_id")
    .selectAll("t")
    .select("p.name as principal")
    .orderBy("t.created_at")
    .orderBy("t.id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    role: r.role as Role | "agent",
    kind: r.kind as "user" | "agent",
    principal: r.principal,
    createdAt: r.created_at,
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

export async function revokeApiToken(ctx: ServiceContext, actor: Actor, id: string): Promise<void> {
  try {
    await revokeStored(ctx, actor, id);
  } finally {
    forgetCredentials(ctx.store);
  }
}

async function revokeStored(ctx: ServiceContext, actor: Actor, id: string): Promise<void> {
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await trx
      .selectFrom("api_tokens")
      .select(["id", "name", "kind", "role", "revoked_at"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw reasonError("token.not-found", `no token with id ${id}`);
    if (row.revoked_at) return;
    if (row.kind === "user" && row.role === "admin") await refuseLastAdmin(trx, { tokenId: id });
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
 * On first start with no user tokens, creates an admin token for the principal `admin`: the given one
 * (AUTOPATCH_ADMIN_TOKEN) or a new random one, which the caller prints once. Returns null when tokens
 * exist already, or when another replica created it at the same moment.
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
  try {
    return await createApiToken(
      ctx,
      SYSTEM_ACTOR,
      { name: BOOTSTRAP_TOKEN_NAME, role: "admin", principal: BOOTSTRAP_PRINCIPAL },
      given === undefined ? {} : { token: given },
    );
  } catch (err) {
    if (isAppError(err) && err.reason === "token.duplicate-name") return null;
    throw err;
  }
}

function credentialQuery(db: Kysely<Database>, hash: string) {
  return db
    .selectFrom("api_tokens as t")
    .leftJoin("principals as p", "p.id", "t.principal_id")
    .select(["t.id", "t.name", "t.role", "t.kind", "t.asset_id", "t.revoked_at", "t.last_used_at"])
    .select(["p.name as principal", "p.disabled_at"])
    .where("t.token_hash", "=", hash);
}

type CredentialRow = InferResult<ReturnType<typeof credentialQuery>>[number];

/** The lookup compiled once per database: building the query cost more than running it on SQLite. */
const CREDENTIAL_QUERIES = new WeakMap<Kysely<Database>, CompiledQuery<CredentialRow>>();

async function lookupCredential(db: Kysely<Database>, hash: string): Promise<CredentialRow | undefined> {
  let compiled = CREDENTIAL_QUERIES.get(db);
  if (!compiled) {
    compiled = credentialQuery(db, "").compile();
    // The hash is the query's one parameter; anything else would be bound wrongly.
    if (compiled.parameters.length !== 1) return credentialQuery(db, hash).executeTakeFirst();
    CREDENTIAL_QUERIES.set(db, compiled);
  }
  const result = await db.executeQuery<CredentialRow>({ ...compiled, parameters: [hash] });
  return result.rows[0];
}

/** The store's credential version (migration 0022); a store without its row never lets one be trusted. */
async function readCredentialVersion(db: Kysely<Database>): Promise<string> {
  const row = await db
    .selectFrom("credential_version")
    .select("version")
    .where("id", "=", 1)
    .executeTakeFirst();
  return row === undefined ? `missing ${randomUUID()}` : String(row.version);
}

/** Resolves a bearer token to who holds it; throws unauthenticated for unknown or revoked tokens. */
export async function authenticate(ctx: ServiceContext, bearer: string): Promise<Actor> {
  const hash = hashSecret(bearer);
  const now = ctx.now();
  // Every agent request authenticates: the answer is remembered while the store's credential version
  // stands still (read at most every CREDENTIAL_TTL_MS; revocations on this replica forget it at
  // once), unless its last-used time is due to be written again.
  if (!credentialsChecked(ctx.store))
    await checkCredentials(ctx.store, () => readCredentialVersion(ctx.store.db));
  const known = rememberedCredential(ctx.store, hash);
  if (known && now.getTime() - known.lastUsedMs <= LAST_USED_RESOLUTION_MS) return known.actor;
  const generation = credentialGeneration(ctx.store);
  const row = await lookupCredential(ctx.store.db, hash);
  if (!row || row.revoked_at) throw new AuthError("unauthenticated", "the token is unknown or revoked");
  if (row.kind !== "agent" && row.principal === null) {
    throw new AuthError("unauthenticated", "the token belongs to no principal");
  }
  if (row.disabled_at) throw new AuthError("unauthenticated", "the token's principal is disabled");
  let lastUsedMs = row.last_used_at === null ? Number.NEGATIVE_INFINITY : Date.parse(row.last_used_at);
  if (now.getTime() - lastUsedMs > LAST_USED_RESOLUTION_MS) {
    noteTokenUse(ctx.store, row.id, now.toISOString());
    lastUsedMs = now.getTime();
  }
  const actor: Actor =
    row.kind === "agent"
      ? {
          kind: "agent",
          id: row.id,
          name: row.name,
          principal: `agent:${row.asset_id ?? row.id}`,
          role: null,
          assetId: row.asset_id,
        }
      : {
          kind: "user",
          id: row.id,
          name: row.name,
          principal: row.principal ?? "",
          role: isRole(row.role) ? row.role : "viewer",
          assetId: null,
        };
  rememberCredential(ctx.store, hash, actor, lastUsedMs, generation);
  return actor;
}
