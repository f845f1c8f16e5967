/** A change request as the API, the CLI and the dashboard see it, read from its stored rows. */
import type { Selectable } from "kysely";
import type { ChangeClass } from "../policy/schema.js";
import type { ApprovalsTable, ChangeRequestsTable } from "../store/schema.js";
import type { ApprovalRule } from "./approval-rule.js";
import { alsoArtifactsOfRow } from "./change-artifacts.js";
import { DEFAULT_PATCH_ECOSYSTEM } from "./installed.js";
import type { ChangeState } from "./lifecycle.js";
import type { PlanV2 } from "./plan.js";
import { readPlan } from "./plan-read.js";
import { patchOfRow } from "./stored-plan.js";

export interface ChangeApproval {
  approver: string;
  /** The approver's principal: approvals count once per principal. */
  principal: string;
  role: string;
  decision: "approve" | "reject";
  reason: string | null;
  at: string;
  expiresAt: string | null;
  /** An approval that has not expired (always false for a rejection). */
  valid: boolean;
}

/** `pending` turns `overdue` once its due time has passed. */
export interface ChangeReview {
  state: "not-required" | "pending" | "overdue" | "done";
  dueAt: string | null;
  by: string | null;
  at: string | null;
  reason: string | null;
}

/** The plan in a few lines: enough for `change show` and lists. */
export interface PlanSummary {
  start: string | null;
  window: string | null;
  reason: string;
  phases: Array<{ name: string; kind: "canary" | "wave"; assets: number; start: string }>;
  /** Assets to patch. */
  assets: number;
  /** Matched assets the plan skips (up to date, package not installed…). */
  skipped: number;
  estimatedEnd: string | null;
  totalFailureBudget: number;
  warnings: string[];
}

export interface ChangeRequest {
  id: string;
  title: string;
  state: ChangeState;
  /** Why the last transition happened, as its actor said. */
  stateReason: string | null;
  patch: {
    package: string;
    /** Other binaries of the same source the change patches to the same version. */
    alsoPackages: string[];
    version: string;
    artifact: { name: string; sha256: string } | null;
    /** The files of alsoPackages, installed with `artifact` in one dpkg call. */
    alsoArtifacts: Array<{ package: string; name: string; sha256: string }>;
    source: string | null;
    advisories: string[];
    ticket: string | null;
  };
  selector: string;
  class: ChangeClass;
  emergency: boolean;
  policy: { name: string; version: number; hash: string };
  justification: string;
  risk: string | null;
  rollback: string | null;
  requester: string;
  /** The requester's principal: separation of duties compares approvers' principals with it. */
  requesterPrincipal: string;
  /** The rule frozen at submit; null for a draft. */
  approvalRule: ApprovalRule | null;
  approvals: ChangeApproval[];
  /** Distinct principals whose approval counts now. */
  validApprovals: number;
  /** Who authorised an emergency start inside a freeze or outside the windows. */
  overrideApprover: string | null;
  scheduledStart: string | null;
  review: ChangeReview;
  plan: PlanSummary | null;
  /** The rollout executing the change; null until it starts. */
  rolloutId: string | null;
  createdAt: string;
  updatedAt: string;
}

export function planSummary(plan: PlanV2): PlanSummary {
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
