/**
 * The approval rule a change is held to, frozen when it is submitted. A change's targets can span
 * environments; it then needs what the strictest of them asks for, so a change cannot slip into
 * production under a staging rule by also naming a staging host.
 */
import { z } from "zod";
import { approvalRuleFor } from "../policy/rules.js";
import type { ChangeClass, Policy } from "../policy/schema.js";

/** A finding that backs an emergency: known exploited or of class emergency, on a target. */
const emergencyEvidenceSchema = z.object({
  finding: z.string(),
  vulnId: z.string(),
  asset: z.string(),
  knownExploited: z.boolean(),
  class: z.string(),
});

/** Why an emergency may take its fast path, decided at submit (see emergency.ts). */
const emergencyBasisSchema = z
  .object({
    /** The findings found at submit; empty when there were none. */
    evidence: z.array(emergencyEvidenceSchema),
    /** True when, for want of evidence, an approver other than the requester must confirm it. */
    confirmationRequired: z.boolean(),
  })
  .meta({
    description:
      "For an emergency: the known-exploited or emergency-class findings that back it, or that an approver must confirm it",
  });

/** The rule frozen at submit: the one schema of its shape (the API publishes it with the change). */
export const approvalRuleSchema = z.object({
  /** Approvers other than the requester. */
  required: z.number().int(),
  /** Roles whose approvals count; an approver needs a role every environment's rule accepts. */
  fromRoles: z.array(z.string()),
  separationOfDuties: z.boolean(),
  expiresAfterMs: z.number(),
  /** A review is due this long after the start (the emergency fast path); null when none is due. */
  postReviewWithinMs: z.number().nullable(),
  justificationRequired: z.boolean(),
  /** The environments the rule was computed for. */
  environments: z.array(z.string()),
  /** For an emergency change, what backs it; null for other changes (and rules frozen before it existed). */
  emergency: emergencyBasisSchema.nullable(),
});

export type EmergencyEvidence = z.infer<typeof emergencyEvidenceSchema>;
export type EmergencyBasis = z.infer<typeof emergencyBasisSchema>;
export type ApprovalRule = z.infer<typeof approvalRuleSchema>;

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
