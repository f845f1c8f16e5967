/**
 * An offline scan's findings: every (package, vulnerability) pair the matcher finds in an inventory,
 * classified by a policy's risk rules, in the order people triage them.
 */
import type { PackageRecord } from "../../domain/inventory.js";
import { classify } from "../../policy/rules.js";
import { CHANGE_CLASSES, type ChangeClass, type Policy } from "../../policy/schema.js";
import type { AdvisoryIndex } from "../matching/advisory-index.js";
import { emptyMatchStats, type MatchStats, matchPackage } from "../matching/match.js";

export interface Finding {
  package: { ecosystem: string; name: string; version: string };
  /** The vulnerability's display id (a CVE when it has one). */
  vulnId: string;
  /** The advisories that report it for this package. */
  advisoryIds: string[];
  /** Every id of the vulnerability, sorted. */
  vulnerabilities: string[];
  fixed: string | null;
  /** Highest CVSS base score, or null when no advisory scores it. */
  severity: number | null;
  vector: string | null;
  knownExploited: boolean;
  class: ChangeClass;
}

export interface ScanOptions {
  policy: Policy;
  /** CVE ids known to be exploited (CISA KEV); none when the scan has no catalog. */
  knownExploited?: ReadonlySet<string>;
  /** Called after each package with the number done so far. */
  onProgress?: (done: number) => void;
}

export interface ScanResult {
  findings: Finding[];
  stats: MatchStats;
  packages: number;
  vulnerablePackages: number;
}

/** 0 for emergency, 1 for high, 2 for routine: the order of CHANGE_CLASSES. */
export function classRank(cls: ChangeClass): number {
  return CHANGE_CLASSES.indexOf(cls);
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Class (emergency first), then severity (highest first, unscored last), then package and id. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    classRank(a.class) - classRank(b.class) ||
    (b.severity ?? -1) - (a.severity ?? -1) ||
    byString(a.package.name, b.package.name) ||
    byString(a.package.version, b.package.version) ||
    byString(a.package.ecosystem, b.package.ecosystem) ||
    byString(a.vulnId, b.vulnId)
  );
}

/** Matches every package against the index and classifies each finding. */
export function scanPackages(
  packages: readonly PackageRecord[],
  index: AdvisoryIndex,
  options: ScanOptions,
): ScanResult {
  const stats = emptyMatchStats();
  const findings: Finding[] = [];
  let vulnerablePackages = 0;
  packages.forEach((pkg, i) => {
    const matches = matchPackage(pkg, index, stats);
    if (matches.length > 0) vulnerablePackages += 1;
    for (const m of matches) {
      const knownExploited = m.aliases.some((id) => options.knownExploited?.has(id) === true);
      findings.push({
        package: { ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version },
        vulnId: m.vulnId,
        advisoryIds: m.advisoryIds,
        vulnerabilities: m.aliases,
        fixed: m.fixed,
        severity: m.severity.score,
        vector: m.severity.vector,
        knownExploited,
        class: classify(options.policy, {
          ...(m.severity.score === null ? {} : { score: m.severity.score }),
          knownExploited,
        }),
      });
    }
    options.onProgress?.(i + 1);
  });
  return { findings: findings.sort(compareFindings), stats, packages: packages.length, vulnerablePackages };
}

/** Findings per class, every class present. */
export function countByClass(findings: readonly Finding[]): Record<ChangeClass, number> {
  const counts = Object.fromEntries(CHANGE_CLASSES.map((c) => [c, 0])) as Record<ChangeClass, number>;
  for (const f of findings) counts[f.class] += 1;
  return counts;
}

/** Whether any finding is of `threshold`'s class or a more urgent one. */
export function failsAt(findings: readonly Finding[], threshold: ChangeClass): boolean {
  return findings.some((f) => classRank(f.class) <= classRank(threshold));
}
