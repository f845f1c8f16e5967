/** An OSV record as the rows the store keeps of it: the advisory, its affected packages, its aliases. */
import { canonicalJson } from "../../audit/canonical-json.js";
import type { AdvisoriesTable, AdvisoryPackagesTable } from "../../store/schema.js";
import { severityOfRecord } from "../cvss.js";
import { ecosystemParts } from "../matching/ecosystem-key.js";
import { type OsvRecord, relatedIds } from "../osv/schema.js";

/** The advisory row without what the import adds (source, time). */
export type AdvisoryRow = Omit<AdvisoriesTable, "source" | "imported_at">;

export interface AdvisoryRows {
  advisory: AdvisoryRow;
  /** One per affected[] entry; none for a withdrawn record, so nothing matches it. */
  packages: AdvisoryPackagesTable[];
  /** Every alias and the id itself, each once. */
  aliases: string[];
}

/** Longest summary kept when a record has none and its details stand in. */
const SUMMARY_FROM_DETAILS = 200;

function summaryOf(record: OsvRecord): string {
  if (record.summary !== undefined && record.summary.trim() !== "") return record.summary.trim();
  const firstLine = record.details?.trim().split("\n", 1)[0] ?? "";
  return firstLine.length > SUMMARY_FROM_DETAILS
    ? `${firstLine.slice(0, SUMMARY_FROM_DETAILS - 1)}…`
    : firstLine;
}

/** GIT ranges are stored with the record but never evaluated; they are counted so imports can say so. */
export function countGitRanges(record: OsvRecord): number {
  let count = 0;
  for (const affected of record.affected ?? []) {
    for (const range of affected.ranges ?? []) if (range.type === "GIT") count += 1;
  }
  return count;
}

/**
 * The rows of one record. `advisory.record` is the record's canonical JSON (RFC 8785), so two imports
 * of the same content store the same text and a re-import can tell "unchanged" by comparing it.
 */
export function advisoryRows(record: OsvRecord): AdvisoryRows {
  const severity = severityOfRecord(record);
  const withdrawn = record.withdrawn ?? null;
  const aliases = [...new Set([record.id, ...relatedIds(record)])];
  const packages =
    withdrawn !== null
      ? []
      : (record.affected ?? []).map((affected, idx): AdvisoryPackagesTable => {
          const parts = ecosystemParts(affected.package.ecosystem);
          return {
            advisory_id: record.id,
            idx,
            ecosystem: parts.base,
            ecosystem_release: parts.release,
            name: affected.package.name,
            affected: JSON.stringify(affected),
          };
        });
  return {
    advisory: {
      id: record.id,
      modified: record.modified,
      published: record.published ?? null,
      withdrawn,
      summary: summaryOf(record),
      aliases: JSON.stringify(relatedIds(record)),
      severity_score: severity.score,
      severity_vector: severity.vector,
      severity_version: severity.version,
      git_ranges: countGitRanges(record),
      record: canonicalJson(record),
    },
    packages,
    aliases,
  };
}
