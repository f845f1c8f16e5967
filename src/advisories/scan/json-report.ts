/** The `--format json` document of an offline scan. */
import type { ChangeClass } from "../../policy/schema.js";
import type { MatchStats } from "../matching/match.js";
import { countByClass, type Finding, type ScanResult } from "./findings.js";
import type { LoadedAdvisories } from "./load-advisories.js";

export interface JsonFinding {
  package: { ecosystem: string; name: string; version: string };
  /** Every id of the vulnerability (advisory ids and aliases), sorted. */
  vulnerabilities: string[];
  fixed: string | null;
  severity: number | null;
  class: ChangeClass;
}

export interface ScanSummary {
  packages: number;
  vulnerablePackages: number;
  findings: number;
  byClass: Record<ChangeClass, number>;
  knownExploited: number;
  advisories: { records: number; withdrawn: number; entries: number; malformed: number };
  /** Inventory entries the importer left out (not installed, no version, …). */
  inventorySkipped: number;
  match: MatchStats;
}

export interface JsonReport {
  findings: JsonFinding[];
  summary: ScanSummary;
}

export function jsonFinding(f: Finding): JsonFinding {
  return {
    package: { ecosystem: f.package.ecosystem, name: f.package.name, version: f.package.version },
    vulnerabilities: f.vulnerabilities,
    fixed: f.fixed,
    severity: f.severity,
    class: f.class,
  };
}

export function scanSummary(
  result: ScanResult,
  advisories: LoadedAdvisories,
  inventorySkipped: number,
): ScanSummary {
  return {
    packages: result.packages,
    vulnerablePackages: result.vulnerablePackages,
    findings: result.findings.length,
    byClass: countByClass(result.findings),
    knownExploited: result.findings.filter((f) => f.knownExploited).length,
    advisories: {
      records: advisories.records,
      withdrawn: advisories.withdrawn,
      entries: advisories.index.size,
      malformed: advisories.malformed.length,
    },
    inventorySkipped,
    match: { ...result.stats },
  };
}

export function jsonReport(result: ScanResult, summary: ScanSummary): JsonReport {
  return { findings: result.findings.map(jsonFinding), summary };
}
