/**
 * A person's decisions on a finding, each audited in the transaction that makes it. Both suppressions
 * (accepting the risk, stating it does not apply) hide a finding from the work to do, so both need the
 * same: an approver or admin, a statement of why, and a date when the finding opens again (an expiry or
 * a review date, at most a year away). An operator reopens either.
 */
import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import type { ErrorReason } from "../../domain/error-reasons.js";
import {
  AuthError,
  ConflictError,
  jsonPointer,
  NotFoundError,
  reasonError,
  ValidationError,
} from "../../domain/errors.js";
import { type Actor, actorLabel, type Permission, roleAllows } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import { forUpdate } from "../../store/locks.js";
import type { Database } from "../../store/schema.js";
import { parseExpiry } from "./expiry.js";
import type { Finding, FindingStatus } from "./finding.js";
import { findingRowNum } from "./finding-rows.js";
import { getFinding } from "./query.js";
import { VEX_JUSTIFICATIONS } from "./vex.js";

const text = (what: string) => z.string().trim().min(1, `${what} is required`).max(2000);

const until = {
  /** ISO 8601 time or a duration from now (30d): the suppression ends then. */
  expiresAt: z
    .string()
    .max(100)
    .optional()
    .meta({ description: "ISO 8601 time or a duration such as 30d: the suppression ends then" }),
  /** The same, read as the date by which the decision must be made again. */
  reviewBy: z.string().max(100).optional().meta({
    description: "ISO 8601 time or a duration such as 90d: the finding opens again then for a review",
  }),
};

export const acceptRiskSchema = z.object({ reason: text("a reason"), ...until });
export type AcceptRiskInput = z.infer<typeof acceptRiskSchema>;

export const notAffectedSchema = z.object({
  justification: z.enum(VEX_JUSTIFICATIONS, {
    error: `the justification must be one of ${VEX_JUSTIFICATIONS.join(", ")}`,
  }),
  /** Free text: why the justification holds here. */
  statement: z
    .string({ error: "a statement is required: why the justification holds here" })
    .trim()
    .min(1, "a statement is required: why the justification holds here")
    .max(2000),
  ...until,
});
export type NotAffectedInput = z.infer<typeof notAffectedSchema>;
export const reopenSchema = z.object({ reason: text("a reason") });

// The fields whose refusal has a reason of its own; the rest are plain validation errors.
const FIELD_REASONS: Record<string, ErrorReason> = {
  statement: "findings.statement-required",
  reason: "findings.statement-required",
};

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = String(issue?.path[0] ?? "");
  const reason = FIELD_REASONS[field];
  throw new ValidationError(issue?.message ?? "invalid input", {
    where: jsonPointer(issue?.path ?? []),
    ...(reason === undefined ? {} : { reason }),
  });
}

function requirePermission(
  actor: Actor,
  permission: Permission,
  what: string,
  reason: ErrorReason = "forbidden",
): void {
  if (actor.role === null || !roleAllows(actor.role, permission)) {
    throw new AuthError(
      "forbidden",
      `${what} needs the "${permission}" permission, which ${actorLabel(actor)} does not have`,
      { reason },
    );
  }
}

/** When a suppression ends: exactly one of an expiry and a review date, in the future, within a year. */
export function suppressionUntil(
  input: { expiresAt?: string | undefined; reviewBy?: string | undefined },
  now: Date,
): { at: Date; kind: "expiresAt" | "reviewBy" } {
  const { expiresAt, reviewBy } = input;
  if (expiresAt !== undefined && reviewBy !== undefined) {
    throw new ValidationError("give an expiry or a review date, not both", { where: "/reviewBy" });
  }
  if (expiresAt === undefined && reviewBy === undefined) {
    throw reasonError(
      "findings.expiry-required",
      "a suppression needs an expiry (expiresAt) or a review date (reviewBy): an ISO 8601 date or a duration such as 30d",
      { where: "/expiresAt" },
    );
  }
  if (reviewBy !== undefined) return { at: parseExpiry(reviewBy, now, "/reviewBy"), kind: "reviewBy" };
  return { at: parseExpiry(expiresAt ?? "", now, "/expiresAt"), kind: "expiresAt" };
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
    // The finding's own row is locked (not the set or facts the view joins), then read through the view.
    const num = await findingRowNum(trx, findingId);
    const locked =
      num === undefined
        ? undefined
        : await trx
            .selectFrom("finding_rows")
            .select("num")
            .where("num", "=", num)
            .$call(forUpdate(trx))
            .executeTakeFirst();
    const row =
      locked === undefined
        ? undefined
        : await trx
            .selectFrom("findings")
            .select(["id", "status", "asset_id", "package_name", "vuln_id", "installed_version"])
            .where("row_num", "=", locked.num)
            .executeTakeFirst();
    if (!row || num === undefined) throw new NotFoundError(`no finding ${findingId}`);
    if (!(change.from as readonly string[]).includes(row.status))
      throw new ConflictError(change.refuse(row.status));
    await trx
      .updateTable("finding_rows")
      .set({
        status: change.to,
        status_reason: change.reason,
        status_by: actorLabel(actor),
        status_expires_at: change.expiresAt,
        updated_at: now.toISOString(),
      })
      .where("num", "=", num)
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
 * An approver (or admin) accepts the risk of an open finding until an expiry or a review date, with a
 * reason. Once that date passes, the next match opens it again. Accepting again renews the acceptance.
 */
export async function acceptRisk(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  input: AcceptRiskInput,
): Promise<Finding> {
  requirePermission(actor, "approve", "accepting a risk", "findings.suppression-forbidden");
  const parsed = parse(acceptRiskSchema, input);
  const { at, kind } = suppressionUntil(parsed, ctx.now());
  return transition(ctx, actor, findingId, {
    from: ["open", "accepted-risk"],
    to: "accepted-risk",
    reason: parsed.reason,
    expiresAt: at.toISOString(),
    action: "finding.risk-accepted",
    data: { [kind]: at.toISOString(), principal: actor.principal },
    refuse: (status) =>
      status === "fixed"
        ? "the finding is fixed: there is no risk left to accept"
        : `the finding is ${status}: reopen it before accepting its risk`,
  });
}

/**
 * An approver (or admin) states that the vulnerability does not affect this asset: a VEX justification,
 * a statement of why it holds here, and an expiry or review date after which the finding opens again.
 */
export async function markNotAffected(
  ctx: ServiceContext,
  actor: Actor,
  findingId: string,
  input: NotAffectedInput,
): Promise<Finding> {
  requirePermission(actor, "approve", "marking a finding not affected", "findings.suppression-forbidden");
  const parsed = parse(notAffectedSchema, input);
  const { at, kind } = suppressionUntil(parsed, ctx.now());
  return transition(ctx, actor, findingId, {
    from: ["open", "accepted-risk", "not-affected"],
    to: "not-affected",
    reason: `${parsed.justification}: ${parsed.statement}`,
    expiresAt: at.toISOString(),
    action: "finding.not-affected",
    data: {
      justification: parsed.justification,
      statement: parsed.statement,
      [kind]: at.toISOString(),
      principal: actor.principal,
    },
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
