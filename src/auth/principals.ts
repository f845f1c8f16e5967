import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { reasonError } from "../domain/errors.js";
import { normaliseName } from "../domain/names.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";
import { forgetCredentials } from "./credential-cache.js";
import { refuseLastAdmin } from "./last-admin.js";

export const PRINCIPAL_KINDS = ["person", "service"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** The bootstrap admin token's principal. */
export const BOOTSTRAP_PRINCIPAL = "admin";

/** The principals of the server itself and of offline commands (SYSTEM_ACTOR, OFFLINE_ACTOR): no token speaks for them. */
const RESERVED = new Set(["system", "offline"]);

/** A principal as listed: the one schema of its shape (the API publishes it). */
export const principalInfoSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(PRINCIPAL_KINDS),
    createdAt: z.string(),
    createdBy: z.string(),
    disabledAt: z.string().nullable(),
    /** Tokens of this principal that are not revoked. */
    activeTokens: z.number().int(),
  })
  .meta({ id: "Principal" });

export type PrincipalInfo = z.infer<typeof principalInfoSchema>;

export interface PrincipalRow {
  id: string;
  name: string;
  disabledAt: string | null;
}

export function isPrincipalKind(value: string): value is PrincipalKind {
  return (PRINCIPAL_KINDS as readonly string[]).includes(value);
}

/** A principal name as stored and compared (see normaliseName). */
export function principalName(raw: string, where: string): string {
  return normaliseName(raw, {
    what: "principal name",
    where,
    reason: "principal.invalid-name",
    reserved: RESERVED,
  });
}

function checkKind(kind: string, where: string): PrincipalKind {
  if (!isPrincipalKind(kind)) {
    throw reasonError("principal.invalid-kind", `unknown principal kind "${kind}": use person or service`, {
      where,
    });
  }
  return kind;
}

/**
 * The principal of this (normalised) name, created when missing, inside the caller's transaction.
 * `insert … on conflict do nothing` lets two writers race for one name: both end with the same row.
 */
export async function ensurePrincipal(
  trx: Kysely<Database>,
  actor: Actor,
  name: string,
  kind: PrincipalKind,
  now: Date,
): Promise<PrincipalRow & { created: boolean }> {
  const id = randomUUID();
  const inserted = await trx
    .insertInto("principals")
    .values({
      id,
      name,
      kind,
      created_at: now.toISOString(),
      created_by: actorLabel(actor),
      disabled_at: null,
    })
    .onConflict((oc) => oc.column("name").doNothing())
    .executeTakeFirst();
  const created = Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
  if (created) {
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "principal.created",
        targetType: "principal",
        targetId: id,
        data: { name, kind },
      },
      now,
    );
  }
  const row = await trx
    .selectFrom("principals")
    .select(["id", "name", "disabled_at"])
    .where("name", "=", name)
    .executeTakeFirstOrThrow();
  return { id: row.id, name: row.name, disabledAt: row.disabled_at, created };
}

/** Creates a principal ahead of its tokens, e.g. a service account of kind `service`. */
export async function createPrincipal(
  ctx: ServiceContext,
  actor: Actor,
  input: { name: string; kind?: string | undefined },
): Promise<PrincipalInfo> {
  const name = principalName(input.name, "/name");
  const kind = checkKind(input.kind ?? "person", "/kind");
  await ctx.store.write(async (trx) => {
    const principal = await ensurePrincipal(trx, actor, name, kind, ctx.now());
    if (!principal.created) {
      throw reasonError("principal.exists", `principal "${name}" exists already`, { where: "/name" });
    }
  });
  const [created] = await listPrincipals(ctx, name);
  if (!created) throw reasonError("internal", `principal "${name}" vanished after it was created`);
  return created;
}

/** Every principal by name, or only the one named `only`. */
export async function listPrincipals(ctx: ServiceContext, only?: string): Promise<PrincipalInfo[]> {
  const rows = await ctx.store.db
    .selectFrom("principals as p")
    .leftJoin("api_tokens as t", (j) => j.onRef("t.principal_id", "=", "p.id").on("t.revoked_at", "is", null))
    .select(["p.id", "p.name", "p.kind", "p.created_at", "p.created_by", "p.disabled_at"])
    .select(sql<number>`count(t.id)`.as("active"))
    .$if(only !== undefined, (q) => q.where("p.name", "=", only ?? ""))
    .groupBy(["p.id", "p.name", "p.kind", "p.created_at", "p.created_by", "p.disabled_at"])
    .orderBy("p.name")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: isPrincipalKind(r.kind) ? r.kind : "person",
    createdAt: r.created_at,
    createdBy: r.created_by,
    disabledAt: r.disabled_at,
    activeTokens: Number(r.active),
  }));
}

/**
 * Disables a principal: none of its tokens authenticate until it is enabled again (e.g. someone who
 * left). Refused when it holds the last active admin tokens.
 */
export async function setPrincipalDisabled(
  ctx: ServiceContext,
  actor: Actor,
  rawName: string,
  disabled: boolean,
): Promise<PrincipalInfo> {
  const name = principalName(rawName, "/name");
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await trx
      .selectFrom("principals")
      .select(["id", "disabled_at"])
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw reasonError("principal.not-found", `no principal named "${name}"`, { where: "/name" });
    if ((row.disabled_at !== null) === disabled) return;
    if (disabled) await refuseLastAdmin(trx, { principalId: row.id });
    await trx
      .updateTable("principals")
      .set({ disabled_at: disabled ? now.toISOString() : null })
      .where("id", "=", row.id)
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: disabled ? "principal.disabled" : "principal.enabled",
        targetType: "principal",
        targetId: row.id,
        data: { name },
      },
      now,
    );
  });
  // Its tokens stop (or start) authenticating now, not when the cached answers expire.
  forgetCredentials(ctx.store);
  const [info] = await listPrincipals(ctx, name);
  if (!info) throw reasonError("principal.not-found", `no principal named "${name}"`, { where: "/name" });
  return info;
}
