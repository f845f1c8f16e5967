/**
 * Policy proposals: the other way a policy version gets stored. An operator (or an admin who wants a
 * second pair of eyes) proposes a content with a reason; it becomes the next version of its name only
 * when an approver or admin who is not the proposer approves it, like a change. An approval applies to
 * the version it was proposed against: when the name has moved on since, the proposal is stale and is
 * made again, so nobody approves a diff they have not seen.
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { AuthError, jsonPointer, NotFoundError, reasonError, ValidationError } from "../domain/errors.js";
import { type Actor, actorLabel, type Permission, roleAllows } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, PolicyProposalsTable } from "../store/schema.js";
import { loadPolicy, policyContentHash } from "./loader.js";
import {
  type AfterStore,
  checkPolicyName,
  DEFAULT_POLICY_NAME,
  ensureDefaultPolicy,
  insertVersion,
  latestRow,
  retryOnRace,
} from "./store.js";

export const PROPOSAL_STATES = ["pending", "approved", "rejected"] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

const reasonText = z.string().trim().min(1, "a reason is required").max(10_000);

export const proposeSchema = z.object({
  content: z.string().max(1_000_000),
  file: z.string().max(4096).optional().meta({ description: "The file name, for error locations." }),
  reason: reasonText.meta({ description: "Why the policy should change: what the approver weighs." }),
});
export type ProposeInput = z.infer<typeof proposeSchema>;

export const decideSchema = z.object({ reason: z.string().trim().max(10_000).optional() });
export const rejectSchema = z.object({ reason: reasonText });

/** A proposal as the API and the CLI see it; `content` only when one proposal is shown. */
export const policyProposalSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    hash: z.string(),
    /** The version it was proposed against; null when the name had none. */
    baseVersion: z.number().int().nullable(),
    proposer: z.string(),
    reason: z.string(),
    state: z.enum(PROPOSAL_STATES),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    decisionReason: z.string().nullable(),
    /** The version its approval stored. */
    version: z.number().int().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: "PolicyProposal" });

export const policyProposalWithContentSchema = policyProposalSchema
  .extend({ content: z.string() })
  .meta({ id: "PolicyProposalWithContent" });

export type PolicyProposal = z.infer<typeof policyProposalSchema>;
export type PolicyProposalWithContent = z.infer<typeof policyProposalWithContentSchema>;

type Row = Selectable<PolicyProposalsTable>;

function view(row: Row): PolicyProposal {
  return {
    id: row.id,
    name: row.name,
    hash: row.content_hash,
    baseVersion: row.base_version === null ? null : Number(row.base_version),
    proposer: row.proposer,
    reason: row.reason,
    state: row.state as ProposalState,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    decisionReason: row.decision_reason,
    version: row.version === null ? null : Number(row.version),
    createdAt: row.created_at,
  };
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ValidationError(issue?.message ?? "invalid input", { where: jsonPointer(issue?.path ?? []) });
}

function requirePermission(actor: Actor, permission: Permission, what: string): void {
  if (actor.kind === "agent" || actor.role === null || !roleAllows(actor.role, permission)) {
    throw new AuthError(
      "forbidden",
      `${what} needs the "${permission}" permission, which ${actorLabel(actor)} does not have`,
    );
  }
}

async function requireRow(db: Kysely<Database>, id: string): Promise<Row> {
  const row = await db.selectFrom("policy_proposals").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new NotFoundError(`no policy proposal ${id}`, { where: "/id" });
  return row;
}

// Moves a pending proposal on by compare-and-set, so of two deciders at once exactly one wins.
async function decide(
  trx: Kysely<Database>,
  row: Row,
  actor: Actor,
  state: "approved" | "rejected",
  reason: string | null,
  now: Date,
  version: number | null,
): Promise<void> {
  const result = await trx
    .updateTable("policy_proposals")
    .set({
      state,
      decided_by: actorLabel(actor),
      decider_principal: actor.principal,
      decided_at: now.toISOString(),
      decision_reason: reason,
      version,
    })
    .where("id", "=", row.id)
    .where("state", "=", "pending")
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    const current = await requireRow(trx, row.id);
    throw reasonError("policy.proposal-decided", `policy proposal ${row.id} is ${current.state} already`, {
      details: { state: current.state },
    });
  }
}

/**
 * Records a proposal (operators and admins). Validates the content as `policy apply` does; a content
 * equal to the latest version is a conflict, there being nothing to approve. Audited.
 */
export async function proposePolicy(
  ctx: ServiceContext,
  actor: Actor,
  input: ProposeInput,
): Promise<PolicyProposal> {
  requirePermission(actor, "operate", "proposing a policy");
  const { content, file, reason } = parse(proposeSchema, input);
  const policy = loadPolicy(content, file);
  checkPolicyName(policy.name);
  const hash = policyContentHash(content);
  if (policy.name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  return ctx.store.write(async (trx) => {
    const now = ctx.now();
    const latest = await latestRow(trx, policy.name);
    if (latest?.content_hash === hash) {
      throw reasonError(
        "policy.proposal-unchanged",
        `the content equals ${policy.name}@${latest.version}: there is nothing to propose`,
      );
    }
    const row: Row = {
      id: `pp-${randomBytes(4).toString("hex")}`,
      name: policy.name,
      content,
      content_hash: hash,
      base_version: latest ? Number(latest.version) : null,
      proposer: actorLabel(actor),
      proposer_principal: actor.principal,
      reason,
      state: "pending",
      decided_by: null,
      decider_principal: null,
      decided_at: null,
      decision_reason: null,
      version: null,
      created_at: now.toISOString(),
    };
    await trx.insertInto("policy_proposals").values(row).execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "policy.proposed",
        targetType: "policy-proposal",
        targetId: row.id,
        reason,
        data: {
          name: row.name,
          hash,
          baseVersion: row.base_version,
          principal: actor.principal,
          ...(file === undefined ? {} : { file }),
        },
      },
      now,
    );
    return view(row);
  });
}

/** Refuses a decider who is the proposer (compared by principal, never by token name). */
function requireOtherPrincipal(actor: Actor, row: Row, what: string): void {
  if (actor.principal === row.proposer_principal) {
    throw new AuthError(
      "forbidden",
      `separation of duties: ${row.proposer} proposed ${row.id} and cannot ${what} it`,
      { reason: "approval.separation-of-duties" },
    );
  }
}

/**
 * An approver or admin other than the proposer approves: the content becomes the next version of its
 * name, authored by the proposer, in the same transaction. Stale proposals are refused.
 */
export async function approveProposal(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: unknown = {},
  afterStore?: AfterStore,
): Promise<PolicyProposalWithContent> {
  requirePermission(actor, "approve", "approving a policy proposal");
  const reason = parse(decideSchema, input ?? {}).reason || null;
  await retryOnRace(() =>
    ctx.store.write(async (trx) => {
      const now = ctx.now();
      const row = await requireRow(trx, id);
      requireOtherPrincipal(actor, row, "approve");
      if (row.state !== "pending") {
        throw reasonError("policy.proposal-decided", `policy proposal ${id} is ${row.state} already`, {
          details: { state: row.state },
        });
      }
      const latest = await latestRow(trx, row.name);
      const latestVersion = latest ? Number(latest.version) : null;
      if (latestVersion !== (row.base_version === null ? null : Number(row.base_version))) {
        throw reasonError(
          "policy.proposal-stale",
          `policy proposal ${id} was made against ${row.name}@${row.base_version ?? "none"}, but the latest is version ${latestVersion}: propose it again`,
        );
      }
      const stored = await insertVersion(
        trx,
        actor,
        row.name,
        row.content,
        row.content_hash,
        now,
        undefined,
        {
          author: row.proposer,
          data: { proposal: row.id, proposedBy: row.proposer, approvedBy: actorLabel(actor) },
        },
      );
      await afterStore?.(trx, stored, now);
      await decide(trx, row, actor, "approved", reason, now, stored.version);
      await appendAudit(
        trx,
        {
          actor: actorLabel(actor),
          action: "policy.proposal-approved",
          targetType: "policy-proposal",
          targetId: row.id,
          reason,
          data: {
            name: row.name,
            version: stored.version,
            hash: row.content_hash,
            principal: actor.principal,
          },
        },
        now,
      );
    }),
  );
  return getProposal(ctx, id);
}

/** An approver or admin other than the proposer rejects, with a reason. */
export async function rejectProposal(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: unknown,
): Promise<PolicyProposalWithContent> {
  requirePermission(actor, "approve", "rejecting a policy proposal");
  const { reason } = parse(rejectSchema, input ?? {});
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await requireRow(trx, id);
    requireOtherPrincipal(actor, row, "reject");
    await decide(trx, row, actor, "rejected", reason, now, null);
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "policy.proposal-rejected",
        targetType: "policy-proposal",
        targetId: row.id,
        reason,
        data: { name: row.name, hash: row.content_hash, principal: actor.principal },
      },
      now,
    );
  });
  return getProposal(ctx, id);
}

/** Proposals, newest first, optionally in one state. */
export async function listProposals(
  ctx: ServiceContext,
  state?: ProposalState | undefined,
): Promise<PolicyProposal[]> {
  const rows = await ctx.store.db
    .selectFrom("policy_proposals")
    .selectAll()
    .$if(state !== undefined, (q) => q.where("state", "=", state ?? "pending"))
    .orderBy("created_at", "desc")
    .orderBy("id")
    .execute();
  return rows.map(view);
}

/** One proposal with its content. */
export async function getProposal(ctx: ServiceContext, id: string): Promise<PolicyProposalWithContent> {
  const row = await requireRow(ctx.store.db, id);
  return { ...view(row), content: row.content };
}
