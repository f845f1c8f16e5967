/**
 * A person's decisions on a finding, each audited in the transaction that makes it: an approver
 * accepts the risk until an expiry, an operator states it does not apply (a VEX justification), an
 * operator reopens either.
 */
import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import {
  AuthError,
  ConflictError,
  jsonPointer,
  NotFoundError,
  ValidationError,
} from "../../domain/errors.js";
import { type Actor, actorLabel, type Permission, roleAllows } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import { forUpdate } from "../../store/locks.js";
import type { Database } from "../../store/schema.js";
import { parseExpiry } from "./expiry.js";
import type { Finding, FindingStatus } from "./finding.js";
import { getFinding } from "./query.js";
import { VEX_JUSTIFICATIONS } from "./vex.js";

const text = (what: string) => z.string().trim().min(1, `${what} is required`).max(2000);

export const acceptRiskSchema = z.object({
  reason: text("a reason"),
  /** ISO 8601 time or a duration from now (30d); in the future, at most one year away. */
  expiresAt: z.string().min(1, "an expiry is required"),
});
export type AcceptRiskInput = z.infer<typeof acceptRiskSchema>;

export const notAffectedSchema = z.object({
  justification: z.enum(VEX_JUSTIFICATIONS, {
    error: `the justification must be one of ${VEX_JUSTIFICATIONS.join(", ")}`,
  }),
  /** Free text: why the justification holds here. */
  statement: z.string().trim().max(2000).optional(),
});
export type NotAffectedInput = z.infer<typeof notAffectedSchema>;

export const reopenSchema = z.object({ reason: text("a reason") });

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ValidationError(issue?.message ?? "invalid input", { where: jsonPointer(issue?.path ?? []) });
}

function requirePermission(actor: Actor, permission: Permission, what: string): void {
  if (actor.role === null || !roleAllows(actor.role, permission)) {
    throw new AuthError(
      "forbidden",
      `${what} needs the "${permission}" permission, which ${actorLabel(actor)} does not have`,
    );
  }
}

/** Changes a finding's status from one of `from`, with its audit event, in one transaction. */
async function transition(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  change: {
    from: readonly FindingStatus[];
    to: FindingStatus;
    reason: string;
    expiresAt: string | null;
    action: string;
    data: Record<string, unknown>;
    refuse: (status: string) => string;
  },
): Promise<Finding> {
  const now = ctx.now();
  await ctx.store.write(async (trx: Kysely<Database>) => {
    const row = await trx
      .selectFrom("findings")
      .select(["id", "status", "asset_id", "package_name", "vuln_id", "installed_version"])
      .where("id", "=", findingId)
      .$call(forUpdate(trx))
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no finding ${findingId}`);
    if (!(change.from as readonly string[]).includes(row.status))
      throw new ConflictError(change.refuse(row.status));
    await trx
      .updateTable("findings")
      .set({
        status: change.to,
        status_reason: change.reason,
        status_by: actorLabel(actor),
        status_expires_at: change.expiresAt,
        updated_at: now.toISOString(),
      })
      .where("id", "=", findingId)
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: change.action,
        targetType: "finding",
        targetId: findingId,
        reason: change.reason,
        data: {
          asset: row.asset_id,
          package: row.package_name,
          installedVersion: row.installed_version,
          vulnId: row.vuln_id,
          from: row.status,
          to: change.to,
          ...change.data,
        },
      },
      now,
    );
  });
  return getFinding(ctx, findingId);
}

/**
 * An approver (or admin) accepts the risk of an open finding until `expiresAt`, with a reason. Once
 * the expiry passes, the next match opens it again. Accepting again renews the acceptance.
 */
export async function acceptRisk(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  input: AcceptRiskInput,
): Promise<Finding> {
  requirePermission(actor, "approve", "accepting a risk");
  const { reason, expiresAt } = parse(acceptRiskSchema, input);
  const expires = parseExpiry(expiresAt, ctx.now());
  return transition(ctx, actor, findingId, {
    from: ["open", "accepted-risk"],
    to: "accepted-risk",
    reason,
    expiresAt: expires.toISOString(),
    action: "finding.risk-accepted",
    data: { expiresAt: expires.toISOString() },
    refuse: (status) =>
      status === "fixed"
        ? "the finding is fixed: there is no risk left to accept"
        : `the finding is ${status}: reopen it before accepting its risk`,
  });
}

/** An operator states that the vulnerability does not affect this asset, with a VEX justification. */
export async function markNotAffected(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  input: NotAffectedInput,
): Promise<Finding> {
  requirePermission(actor, "operate", "marking a finding not affected");
  const { justification, statement } = parse(notAffectedSchema, input);
  return transition(ctx, actor, findingId, {
    from: ["open", "accepted-risk", "not-affected"],
    to: "not-affected",
    reason: statement ? `${justification}: ${statement}` : justification,
    expiresAt: null,
    action: "finding.not-affected",
    data: { justification, ...(statement ? { statement } : {}) },
    refuse: () => "the finding is fixed: it affects nothing any more",
  });
}

/** An operator reopens an accepted or not-affected finding. Fixed findings reopen only by matching again. */
export async function reopen(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  reason: string,
): Promise<Finding> {
  requirePermission(actor, "operate", "reopening a finding");
  const parsed = parse(reopenSchema, { reason });
  return transition(ctx, actor, findingId, {
    from: ["accepted-risk", "not-affected"],
    to: "open",
    reason: parsed.reason,
    expiresAt: null,
    action: "finding.reopened",
    data: {},
    refuse: (status) =>
      status === "open"
        ? "the finding is open already"
        : "the finding is fixed: it opens again by itself if a re-match finds the package affected",
  });
}
