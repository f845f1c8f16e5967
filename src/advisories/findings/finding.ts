/** A finding as the API, the CLI and other modules see it. */
import type { Selectable } from "kysely";
import type { ChangeClass } from "../../policy/schema.js";
import type { FindingsTable } from "../../store/schema.js";

/**
 * open: affected, to be patched; fixed: no longer affected (kept for history); accepted-risk: an
 * approver accepted it until an expiry; not-affected: an operator stated (VEX) that it does not apply.
 */
export const FINDING_STATUSES = ["open", "fixed", "accepted-risk", "not-affected"] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

export interface Finding {
  id: string;
  asset: { id: string; name: string };
  ecosystem: string;
  package: string;
  /** "" when the package has no architecture. */
  arch: string;
  installedVersion: string;
  /** The vulnerability's display id: its CVE when it has one. */
  vulnId: string;
  advisoryIds: string[];
  aliases: string[];
  /** Lowest version that fixes it; null when there is no fix yet. */
  fixedVersion: string | null;
  severity: { score: number | null; vector: string | null };
  epss: number | null;
  kev: boolean;
  riskScore: number;
  class: ChangeClass;
  status: FindingStatus;
  statusReason: string | null;
  statusBy: string | null;
  statusExpiresAt: string | null;
  firstSeen: string;
  dueAt: string | null;
  updatedAt: string;
  /** Open and past its due date. */
  overdue: boolean;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function rowToFinding(row: Selectable<FindingsTable> & { asset_name: string }, now: Date): Finding {
  const status = row.status as FindingStatus;
  return {
    id: row.id,
    asset: { id: row.asset_id, name: row.asset_name },
    ecosystem: row.ecosystem,
    package: row.package_name,
    arch: row.arch,
    installedVersion: row.installed_version,
    vulnId: row.vuln_id,
    advisoryIds: JSON.parse(row.advisory_ids) as string[],
    aliases: JSON.parse(row.aliases) as string[],
    fixedVersion: row.fixed_version,
    severity: { score: num(row.severity_score), vector: row.severity_vector },
    epss: num(row.epss),
    kev: Number(row.kev) === 1,
    riskScore: Number(row.risk_score),
    class: row.class as ChangeClass,
    status,
    statusReason: row.status_reason,
    statusBy: row.status_by,
    statusExpiresAt: row.status_expires_at,
    firstSeen: row.first_seen,
    dueAt: row.due_at,
    updatedAt: row.updated_at,
    overdue: status === "open" && row.due_at !== null && row.due_at < now.toISOString(),
  };
}
