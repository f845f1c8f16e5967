/** A change request as the API, the CLI and the dashboard see it, read from its stored rows. */
import type { Selectable } from "kysely";
import { z } from "zod";
import { CHANGE_CLASSES, type ChangeClass } from "../policy/schema.js";
import type { ApprovalsTable, ChangeRequestsTable } from "../store/schema.js";
import { type ApprovalRule, approvalRuleSchema } from "./approval-rule.js";
import { alsoArtifactsOfRow } from "./change-artifacts.js";
import { DEFAULT_PATCH_ECOSYSTEM } from "./installed.js";
import { CHANGE_STATES, type ChangeState } from "./lifecycle.js";
import type { PlanV2 } from "./plan.js";
import { readPlan } from "./plan-read.js";
import { patchOfRow } from "./stored-plan.js";

const changeApprovalSchema = z.object({
  approver: z.string(),
  /** The approver's principal: approvals count once per principal. */
  principal: z.string(),
  role: z.string(),
  decision: z.enum(["approve", "reject"]),
  reason: z.string().nullable(),
  at: z.string(),
  expiresAt: z.string().nullable(),
  /** An approval that has not expired (always false for a rejection). */
  valid: z.boolean(),
});

/** `pending` turns `overdue` once its due time has passed. */
const changeReviewSchema = z.object({
  state: z.enum(["not-required", "pending", "overdue", "done"]),
  dueAt: z.string().nullable(),
  by: z.string().nullable(),
  at: z.string().nullable(),
  reason: z.string().nullable(),
});

/** The plan in a few lines: enough for `change show` and lists. */
const planSummarySchema = z.object({
  start: z.string().nullable(),
  window: z.string().nullable(),
  reason: z.string(),
  phases: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["canary", "wave"]),
      assets: z.number().int(),
      start: z.string(),
    }),
  ),
  /** Assets to patch. */
  assets: z.number().int(),
  /** Matched assets the plan skips (up to date, package not installed…). */
  skipped: z.number().int(),
  estimatedEnd: z.string().nullable(),
  totalFailureBudget: z.number(),
  warnings: z.array(z.string()),
});

/** A change request: the one schema of its shape, which the API publishes and the types come from. */
export const changeRequestSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    state: z.enum(CHANGE_STATES),
    /** Why the last transition happened, as its actor said. */
    stateReason: z.string().nullable(),
    patch: z.object({
      package: z.string(),
      /** Other binaries of the same source the change patches to the same version. */
      alsoPackages: z.array(z.string()),
      version: z.string(),
      artifact: z.object({ name: z.string(), sha256: z.string() }).nullable(),
      /** The files of alsoPackages, installed with `artifact` in one dpkg call. */
      alsoArtifacts: z.array(z.object({ package: z.string(), name: z.string(), sha256: z.string() })),
      source: z.string().nullable(),
      advisories: z.array(z.string()),
      ticket: z.string().nullable(),
    }),
    selector: z.string(),
    class: z.enum(CHANGE_CLASSES),
    emergency: z.boolean(),
    policy: z.object({ name: z.string(), version: z.number().int(), hash: z.string() }),
    justification: z.string(),
    risk: z.string().nullable(),
    rollback: z.string().nullable(),
    requester: z.string(),
    /** The requester's principal: separation of duties compares approvers' principals with it. */
    requesterPrincipal: z.string(),
    /** The rule frozen at submit; null for a draft. */
    approvalRule: approvalRuleSchema.nullable(),
    approvals: z.array(changeApprovalSchema),
    /** Distinct principals whose approval counts now. */
    validApprovals: z.number().int(),
    /** Who authorised an emergency start inside a freeze or outside the windows. */
    overrideApprover: z.string().nullable(),
    scheduledStart: z.string().nullable(),
    review: changeReviewSchema,
    plan: planSummarySchema.nullable(),
    /** The rollout executing the change; null until it starts. */
    rolloutId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "ChangeRequest" });

export type ChangeApproval = z.infer<typeof changeApprovalSchema>;
export type ChangeReview = z.infer<typeof changeReviewSchema>;
export type PlanSummary = z.infer<typeof planSummarySchema>;
export type ChangeRequest = z.infer<typeof changeRequestSchema>;

function planSummary(plan: PlanV2): PlanSummary {
  return {
    start: plan.schedule.start,
    window: plan.schedule.window,
    reason: plan.schedule.reason,
    phases: plan.phases.map((p) => ({ name: p.name, kind: p.kind, assets: p.assets.length, start: p.start })),
    assets: plan.summary.toPatch,
    skipped: plan.summary.skipped,
    estimatedEnd: plan.summary.estimatedEnd,
    totalFailureBudget: plan.totalFailureBudget,
    warnings: plan.warnings,
  };
}

export function approvalValid(row: Selectable<ApprovalsTable>, now: Date): boolean {
  return row.decision === "approve" && (row.expires_at === null || row.expires_at > now.toISOString());
}

/** How many distinct principals have an approval that counts at `now`. */
export function countValidApprovals(rows: readonly Selectable<ApprovalsTable>[], now: Date): number {
  return new Set(rows.filter((r) => approvalValid(r, now)).map((r) => r.approver_principal)).size;
}

function review(row: Selectable<ChangeRequestsTable>, now: Date): ChangeReview {
  const state =
    row.review_state === "pending"
      ? row.review_due_at !== null && row.review_due_at < now.toISOString()
        ? "overdue"
        : "pending"
      : row.review_state === "done"
        ? "done"
        : "not-required";
  return {
    state,
    dueAt: row.review_due_at,
    by: row.reviewed_by,
    at: row.reviewed_at,
    reason: row.review_reason,
  };
}

// Rules frozen before emergencies recorded their basis have no `emergency` member.
function frozenRuleView(json: string): ApprovalRule {
  const rule = JSON.parse(json) as Partial<ApprovalRule> & Omit<ApprovalRule, "emergency">;
  return { ...rule, emergency: rule.emergency ?? null };
}

export function rowToChange(
  row: Selectable<ChangeRequestsTable>,
  approvals: readonly Selectable<ApprovalsTable>[],
  now: Date,
): ChangeRequest {
  // The summary needs no asset ids: a version-1 plan is upgraded without looking them up.
  const plan =
    row.plan === null ? null : readPlan(row.plan, { patch: patchOfRow(row, DEFAULT_PATCH_ECOSYSTEM) });
  return {
    id: row.id,
    title: row.title,
    state: row.state as ChangeState,
    stateReason: row.state_reason,
    patch: {
      package: row.package_name,
      alsoPackages: JSON.parse(row.also_packages ?? "[]") as string[],
      version: row.package_version,
      artifact:
        row.artifact_name === null || row.artifact_sha256 === null
          ? null
          : { name: row.artifact_name, sha256: row.artifact_sha256 },
      alsoArtifacts: alsoArtifactsOfRow(row),
      source: row.source,
      advisories: JSON.parse(row.advisories) as string[],
      ticket: row.ticket,
    },
    selector: row.selector,
    class: row.class as ChangeClass,
    emergency: Number(row.emergency) === 1,
    policy: { name: row.policy_name, version: Number(row.policy_version), hash: row.policy_hash },
    justification: row.justification,
    risk: row.risk_notes,
    rollback: row.rollback_notes,
    requester: row.requester,
    requesterPrincipal: row.requester_principal,
    approvalRule: row.approval_rule === null ? null : frozenRuleView(row.approval_rule),
    approvals: approvals.map((a) => ({
      approver: a.approver_name,
      principal: a.approver_principal,
      role: a.approver_role,
      decision: a.decision === "reject" ? "reject" : "approve",
      reason: a.reason,
      at: a.created_at,
      expiresAt: a.expires_at,
      valid: approvalValid(a, now),
    })),
    validApprovals: countValidApprovals(approvals, now),
    overrideApprover: row.override_approver,
    scheduledStart: row.scheduled_start,
    review: review(row, now),
    plan: plan === null ? null : planSummary(plan),
    rolloutId: row.rollout_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
