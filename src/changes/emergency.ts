/**
 * What lets an emergency take its fast path. An operator's word alone is not enough: the change must
 * close a finding that is known exploited (CISA KEV) or classed emergency, on one of its targets and
 * for its package, or an approver other than the requester confirms the emergency by approving it.
 * Either way the post-hoc review the policy asks for stays due.
 */
import type { Kysely } from "kysely";
import type { Asset } from "../domain/inventory.js";
import type { Database } from "../store/schema.js";
import type { ApprovalRule, EmergencyBasis, EmergencyEvidence } from "./approval-rule.js";
import type { ChangeRow } from "./records.js";

/** Roles that may confirm an emergency nobody else has vouched for. */
const CONFIRMING_ROLES = ["approver", "admin"] as const;

// Bounded IN lists: the targets of a fleet-wide change may be many thousands of assets.
const CHUNK = 500;
// The frozen rule lists a few findings as the record; the audit event has the same list.
const MAX_EVIDENCE = 20;

/**
 * The open findings that justify the emergency: on a target, of the change's package, one of the
 * vulnerabilities it names (by id or alias), and known exploited or of class emergency. Read in the
 * caller's transaction, so the evidence is what the store holds at submit.
 */
export async function emergencyEvidence(
  db: Kysely<Database>,
  row: ChangeRow,
  targets: readonly Asset[],
): Promise<EmergencyEvidence[]> {
  const named = new Set(JSON.parse(row.advisories) as string[]);
  if (named.size === 0) return [];
  const names = new Map(targets.map((a) => [a.id, a.name]));
  const ids = [...names.keys()];
  const out: EmergencyEvidence[] = [];
  for (let i = 0; i < ids.length && out.length < MAX_EVIDENCE; i += CHUNK) {
    const rows = await db
      .selectFrom("findings")
      .select(["id", "asset_id", "vuln_id", "aliases", "kev", "class"])
      .where("status", "=", "open")
      .where("package_name", "=", row.package_name)
      .where((eb) => eb.or([eb("kev", "=", 1), eb("class", "=", "emergency")]))
      .where("asset_id", "in", ids.slice(i, i + CHUNK))
      .orderBy("id")
      .execute();
    for (const f of rows) {
      const aliases = JSON.parse(f.aliases) as string[];
      if (!named.has(f.vuln_id) && !aliases.some((a) => named.has(a))) continue;
      out.push({
        finding: f.id,
        vulnId: f.vuln_id,
        asset: names.get(f.asset_id) ?? f.asset_id,
        knownExploited: Number(f.kev) === 1,
        class: f.class,
      });
      if (out.length >= MAX_EVIDENCE) break;
    }
  }
  return out;
}

/**
 * The rule an emergency is held to: the policy's, and when no evidence backs it at least one approval
 * from an approver or admin who is not the requester. Pure.
 */
export function emergencyRule(rule: ApprovalRule, evidence: readonly EmergencyEvidence[]): ApprovalRule {
  if (evidence.length > 0) {
    return { ...rule, emergency: { evidence: [...evidence], confirmationRequired: false } };
  }
  const allowed = rule.fromRoles.filter((r) => (CONFIRMING_ROLES as readonly string[]).includes(r));
  const basis: EmergencyBasis = { evidence: [], confirmationRequired: true };
  return {
    ...rule,
    required: Math.max(1, rule.required),
    fromRoles: allowed.length > 0 ? allowed : [...CONFIRMING_ROLES],
    separationOfDuties: true,
    emergency: basis,
  };
}
