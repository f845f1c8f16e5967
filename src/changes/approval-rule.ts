/**
 * The approval rule a change is held to, frozen when it is submitted. A change's targets can span
 * environments; it then needs what the strictest of them asks for, so a change cannot slip into
 * production under a staging rule by also naming a staging host.
 */
import { approvalRuleFor } from "../policy/rules.js";
import type { ChangeClass, Policy } from "../policy/schema.js";

/** A finding that backs an emergency: known exploited or of class emergency, on a target. */
export interface EmergencyEvidence {
  finding: string;
  vulnId: string;
  asset: string;
  knownExploited: boolean;
  class: string;
}

/** Why an emergency may take its fast path, decided at submit (see emergency.ts). */
export interface EmergencyBasis {
  /** The findings found at submit; empty when there were none. */
  evidence: EmergencyEvidence[];
  /** True when, for want of evidence, an approver other than the requester must confirm it. */
  confirmationRequired: boolean;
}

export interface ApprovalRule {
  /** Approvers other than the requester. */
  required: number;
  /** Roles whose approvals count; an approver needs a role every environment's rule accepts. */
  fromRoles: string[];
  separationOfDuties: boolean;
  expiresAfterMs: number;
  /** A review is due this long after the start (the emergency fast path); null when none is due. */
  postReviewWithinMs: number | null;
  justificationRequired: boolean;
  /** The environments the rule was computed for. */
  environments: string[];
  /** For an emergency change, what backs it; null for other changes (and rules frozen before it existed). */
  emergency: EmergencyBasis | null;
}

export function effectiveApprovalRule(
  policy: Policy,
  cls: ChangeClass,
  environments: readonly string[],
): ApprovalRule {
  const envs = [...new Set(environments)].sort();
  // No targets yet (a draft planned later): the class rule without an environment.
  const rules = (envs.length === 0 ? [undefined] : envs).map((e) =>
    approvalRuleFor(policy, cls, e === "" ? undefined : e),
  );
  const [first, ...rest] = rules;
  if (first === undefined) throw new RangeError("no approval rule");
  const reviews = rules.map((r) => r.postReviewWithinMs).filter((ms): ms is number => ms !== undefined);
  return {
    required: Math.max(...rules.map((r) => r.required)),
    fromRoles: first.fromRoles.filter((role) => rest.every((r) => r.fromRoles.includes(role))),
    separationOfDuties: rules.some((r) => r.separationOfDuties),
    expiresAfterMs: Math.min(...rules.map((r) => r.expiresAfterMs)),
    postReviewWithinMs: reviews.length === 0 ? null : Math.min(...reviews),
    justificationRequired: rules.some((r) => r.justificationRequired),
    environments: envs,
    emergency: null,
  };
}
