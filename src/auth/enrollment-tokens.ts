import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { AuthError, NotFoundError, reasonError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, EnrollmentTokensTable } from "../store/schema.js";
import { hashSecret, newSecret } from "./secrets.js";

/** Every enrollment token expires, reusable ones too: a leaked token is useful for a day by default. */
export const DEFAULT_ENROLLMENT_TTL_SECONDS = 24 * 3600;
/** Fleet images that bake a reusable token in are rebuilt at least yearly. */
export const MAX_ENROLLMENT_TTL_SECONDS = 365 * 24 * 3600;

export interface EnrollmentTokenOptions {
  /** A reusable token enrolls any number of agents (fleet images); a one-time token just one. */
  reusable?: boolean;
  /** Lifetime in seconds, 1 s to a year; default a day. */
  ttlSeconds?: number;
}

export interface CreatedEnrollmentToken {
  id: string;
  /** Only this call ever sees the token: it is stored hashed. */
  token: string;
  expiresAt: string;
}

export const ENROLLMENT_TOKEN_STATUSES = ["active", "used", "expired", "revoked"] as const;
export type EnrollmentTokenStatus = (typeof ENROLLMENT_TOKEN_STATUSES)[number];

const enrollmentUseSchema = z.object({
  assetId: z.string(),
  assetName: z.string(),
  reenrolled: z.boolean(),
  enrolledAt: z.string(),
});

export type EnrollmentUse = z.infer<typeof enrollmentUseSchema>;

/** An enrollment token as listed and shown: never the secret. The one schema of its shape. */
export const enrollmentTokenInfoSchema = z
  .object({
    id: z.string(),
    reusable: z.boolean(),
    status: z.enum(ENROLLMENT_TOKEN_STATUSES),
    useCount: z.number().int(),
    createdAt: z.string(),
    createdBy: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    /** How many enrollments the token made; `assets` lists them, newest first (in lists, the latest few). */
    assetCount: z.number().int(),
    assets: z.array(enrollmentUseSchema),
  })
  .meta({ id: "EnrollmentToken" });

export type EnrollmentTokenInfo = z.infer<typeof enrollmentTokenInfoSchema>;

/** How many of a token's enrollments a list shows; `show` gives them all. */
const LIST_USES = 5;

export async function createEnrollmentToken(
  ctx: ServiceContext,
  actor: Actor,
  options: EnrollmentTokenOptions = {},
): Promise<CreatedEnrollmentToken> {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_ENROLLMENT_TTL_SECONDS;
  // Bounded before any date arithmetic: an unbounded lifetime makes an invalid date.
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_ENROLLMENT_TTL_SECONDS) {
    throw reasonError(
      "enroll.ttl-out-of-range",
      `the lifetime is a whole number of seconds from 1 to ${MAX_ENROLLMENT_TTL_SECONDS} (a year)`,
      { where: "/ttlSeconds" },
    );
  }
  const token = newSecret("ape");
  const id = randomUUID();
  const now = ctx.now();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
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

function statusOf(row: Selectable<EnrollmentTokensTable>, now: Date): EnrollmentTokenStatus {
  if (row.revoked_at) return "revoked";
  if (row.expires_at && Date.parse(row.expires_at) <= now.getTime()) return "expired";
  if (row.reusable !== 1 && row.use_count > 0) return "used";
  return "active";
}

/**
 * The token a secret names, if it may enroll now. Read-only, so the server can refuse a request
 * before reading its body; enrolling consumes the token with a conditional update (see enrollAgent).
 */
export async function usableEnrollmentToken(
  db: Kysely<Database>,
  secret: string,
  now: Date,
): Promise<Selectable<EnrollmentTokensTable>> {
  const row = await db
    .selectFrom("enrollment_tokens")
    .selectAll()
    .where("token_hash", "=", hashSecret(secret))
    .executeTakeFirst();
  if (!row || statusOf(row, now) !== "active") {
    throw new AuthError("unauthenticated", "the enrollment token is unknown, used, expired or revoked", {
      reason: "enroll.token-refused",
    });
  }
  return row;
}

/** Uses the token once; false when a concurrent enrollment used it up (or it expired) meanwhile. */
export async function consumeEnrollmentToken(trx: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const result = await trx
    .updateTable("enrollment_tokens")
    .set((eb) => ({ use_count: eb("use_count", "+", 1) }))
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now.toISOString())]))
    .where((eb) => eb.or([eb("reusable", "=", 1), eb("use_count", "=", 0)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

async function usesOf(db: Kysely<Database>, tokenId: string, limit?: number): Promise<EnrollmentUse[]> {
  let query = db
    .selectFrom("enrollment_token_uses")
    .select(["asset_id", "asset_name", "reenrolled", "enrolled_at"])
    .where("token_id", "=", tokenId)
    .orderBy("enrolled_at", "desc")
    .orderBy("id");
  if (limit !== undefined) query = query.limit(limit);
  const rows = await query.execute();
  return rows.map((r) => ({
    assetId: r.asset_id,
    assetName: r.asset_name,
    reenrolled: r.reenrolled === 1,
    enrolledAt: r.enrolled_at,
  }));
}

function toInfo(
  row: Selectable<EnrollmentTokensTable>,
  now: Date,
  assetCount: number,
  assets: EnrollmentUse[],
): EnrollmentTokenInfo {
  return {
    id: row.id,
    reusable: row.reusable === 1,
    status: statusOf(row, now),
    useCount: Number(row.use_count),
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    assetCount,
    assets,
  };
}

/** Every enrollment token (never its secret), newest first, with the latest assets it enrolled. */
export async function listEnrollmentTokens(ctx: ServiceContext): Promise<EnrollmentTokenInfo[]> {
  const db = ctx.store.db;
  const now = ctx.now();
  const rows = await db.selectFrom("enrollment_tokens").selectAll().orderBy("created_at", "desc").execute();
  const counts = await db
    .selectFrom("enrollment_token_uses")
    .select(["token_id", (eb) => eb.fn.countAll<string | number>().as("n")])
    .groupBy("token_id")
    .execute();
  const countOf = new Map(counts.map((c) => [c.token_id, Number(c.n)]));
  const list: EnrollmentTokenInfo[] = [];
  for (const row of rows) {
    const count = countOf.get(row.id) ?? 0;
    list.push(toInfo(row, now, count, count === 0 ? [] : await usesOf(db, row.id, LIST_USES)));
  }
  return list;
}

/** One enrollment token with every asset it enrolled. */
export async function getEnrollmentToken(ctx: ServiceContext, id: string): Promise<EnrollmentTokenInfo> {
  const row = await ctx.store.db
    .selectFrom("enrollment_tokens")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no enrollment token with id ${id}`, { where: "/id" });
  const assets = await usesOf(ctx.store.db, id);
  return toInfo(row, ctx.now(), assets.length, assets);
}

/** Revokes an enrollment token; agents it enrolled keep their own credentials. Revoking twice is a no-op. */
export async function revokeEnrollmentToken(ctx: ServiceContext, actor: Actor, id: string): Promise<void> {
  const now = ctx.now();
  await ctx.store.write(async (trx) => {
    const row = await trx
      .selectFrom("enrollment_tokens")
      .select(["id", "revoked_at"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no enrollment token with id ${id}`, { where: "/id" });
    if (row.revoked_at) return;
    await trx
      .updateTable("enrollment_tokens")
      .set({ revoked_at: now.toISOString() })
      .where("id", "=", id)
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "enrollment-token.revoked",
        targetType: "enrollment-token",
        targetId: id,
        data: {},
      },
      now,
    );
  });
}
