/** A finding as the API, the CLI and other modules see it. */
import type { Selectable } from "kysely";
import { z } from "zod";
import { CHANGE_CLASSES, type ChangeClass } from "../../policy/schema.js";
import type { FindingsTable } from "../../store/schema.js";

/**
 * open: affected, to be patched; fixed: no longer affected (kept for history); accepted-risk: an
 * approver accepted it until an expiry; not-affected: an operator stated (VEX) that it does not apply.
 */
export const FINDING_STATUSES = ["open", "fixed", "accepted-risk", "not-affected"] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/** The one schema of a finding: the type below, the API's responses and /openapi.json derive from it. */
export const findingSchema = z
  .object({
    id: z.string(),
    asset: z.object({ id: z.string(), name: z.string() }),
    ecosystem: z.string(),
    package: z.string(),
    arch: z.string().describe('"" when the package has no architecture'),
    installedVersion: z.string(),
    vulnId: z.string().describe("the vulnerability's display id: its CVE when it has one"),
    advisoryIds: z.array(z.string()),
    aliases: z.array(z.string()),
    fixedVersion: z
      .string()
      .nullable()
      .describe("lowest version that fixes it; null when there is no fix yet"),
    severity: z.object({ score: z.number().nullable(), vector: z.string().nullable() }),
    epss: z.number().nullable(),
    kev: z.boolean(),
    riskScore: z.number(),
    class: z.enum(CHANGE_CLASSES),
    status: z.enum(FINDING_STATUSES),
    statusReason: z.string().nullable(),
    statusBy: z.string().nullable(),
    statusExpiresAt: z.string().nullable(),
    firstSeen: z.string(),
    dueAt: z.string().nullable(),
    updatedAt: z.string(),
    overdue: z.boolean().describe("open and past its due date"),
  })
  .meta({ id: "Finding" });
export type Finding = z.infer<typeof findingSchema>;

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
