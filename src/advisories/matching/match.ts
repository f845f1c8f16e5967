/**
 * Matching one installed package against the advisory index: which vulnerabilities affect it, the
 * version that fixes each and how severe it is.
 */
import { ValidationError } from "../../domain/errors.js";
import type { PackageRecord } from "../../domain/inventory.js";
import type { VersionScheme } from "../../ecosystems/scheme.js";
import { aliasGroups, groupAliases } from "../aliases.js";
import { fixedVersionsAbove, isAffected } from "../osv/ranges.js";
import type { OsvAffected } from "../osv/schema.js";
import type { AdvisoryEntry, AdvisoryIndex } from "./advisory-index.js";
import { ecosystemParts } from "./ecosystem-key.js";
import { gitRangesOf, rangesOnly } from "./entry-view.js";
import { schemeForBase } from "./scheme-cache.js";
import { VersionOrder, versionsNamedBy } from "./version-order.js";

export interface VulnerabilityMatch {
  /** Display id: the CVE if the vulnerability has exactly one, else the smallest advisory id. */
  vulnId: string;
  /** The advisories of this vulnerability that affect the package, sorted. */
  advisoryIds: string[];
  /** Every id of the vulnerability (advisory ids and aliases), sorted. */
  aliases: string[];
  /**
   * Lowest fixed version above the installed one over those advisories, one that none of them still
   * marks affected; null = no fix yet.
   */
  fixed: string | null;
  /** The highest among those advisories. */
  severity: { score: number | null; vector: string | null };
}

export interface MatchStats {
  /** (package, affected[] entry) pairs evaluated. */
  evaluated: number;
  /** GIT ranges met in evaluated entries: they need the repository's history and are not evaluated. */
  gitRangesSkipped: number;
  /** Packages whose ecosystem has no version scheme. */
  unsupportedEcosystems: number;
  /** Packages with an invalid installed version, plus entries with an invalid version in a range. */
  invalidVersions: number;
}

export function emptyMatchStats(): MatchStats {
  return { evaluated: 0, gitRangesSkipped: 0, unsupportedEcosystems: 0, invalidVersions: 0 };
}

/** One advisory that affects the package, with its entries for the package that could be evaluated. */
interface Hit {
  entry: AdvisoryEntry;
  entries: OsvAffected[];
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One installed version being matched: its scheme answers from the version table of its name. */
interface Subject {
  version: string;
  rank: number;
  order: VersionOrder;
  scheme: VersionScheme;
}

/**
 * isAffected with the `versions` list looked up by rank (the rest of the entry goes through the
 * evaluator unchanged): long lists such as PyPI's would otherwise be scanned once per package.
 */
function affects(entry: OsvAffected, version: string, rank: number, subject: Subject): boolean {
  return subject.order.listed(entry, rank) || isAffected(rangesOnly(entry), version, subject.scheme);
}

/** Evaluates every entry of one advisory for the package; null when none affects it. */
function evaluate(entries: readonly AdvisoryEntry[], subject: Subject, stats: MatchStats): Hit | null {
  const usable: OsvAffected[] = [];
  let affected = false;
  for (const entry of entries) {
    stats.evaluated += 1;
    stats.gitRangesSkipped += gitRangesOf(entry.affected);
    try {
      if (affects(entry.affected, subject.version, subject.rank, subject)) affected = true;
      usable.push(entry.affected);
    } catch (err) {
      // A bad version inside the advisory skips this entry only; the installed one was checked before.
      if (!(err instanceof ValidationError)) throw err;
      stats.invalidVersions += 1;
    }
  }
  const first = entries[0];
  return affected && first !== undefined ? { entry: first, entries: usable } : null;
}

/**
 * lowestFixedAbove (osv/ranges.ts) with the `versions` lists looked up by rank: the lowest fixed
 * version above the installed one that no entry marks affected, or null.
 */
function lowestFix(entries: readonly OsvAffected[], subject: Subject): string | null {
  const ranges = entries.map(rangesOnly);
  for (const candidate of fixedVersionsAbove(ranges, subject.version, subject.scheme)) {
    const rank = subject.order.rank(candidate);
    if (!entries.some((e) => affects(e, candidate, rank, subject))) return candidate;
  }
  return null;
}

// Version tables per index and (ecosystem, name), built on the first match of a package name and reused
// for every later package of that name. They hold every version the name's entries use; when entries
// are added to the index, its tables are built again.
const orders = new WeakMap<AdvisoryIndex, { size: number; byKey: Map<string, VersionOrder> }>();

function orderFor(
  index: AdvisoryIndex,
  key: string,
  candidates: readonly AdvisoryEntry[],
  scheme: VersionScheme,
): VersionOrder {
  let tables = orders.get(index);
  if (tables === undefined || tables.size !== index.size) {
    tables = { size: index.size, byKey: new Map() };
    orders.set(index, tables);
  }
  let order = tables.byKey.get(key);
  if (order === undefined) {
    order = new VersionOrder(
      scheme,
      versionsNamedBy(
        candidates.map((c) => c.affected),
        scheme,
      ),
    );
    tables.byKey.set(key, order);
  }
  return order;
}

/** The one CVE of a vulnerability names it; a group of several CVEs (a DSA fixing many) keeps the advisory id. */
function displayId(ids: readonly string[], advisoryIds: readonly string[]): string {
  const cves = ids.filter((id) => id.startsWith("CVE-"));
  return (cves.length === 1 ? cves[0] : undefined) ?? advisoryIds[0] ?? ids[0] ?? "";
}

/**
 * All vulnerabilities affecting one package. Debian/Ubuntu packages are matched through their source
 * package name and version (advisories there are keyed by source). Advisories of the same
 * vulnerability (linked through aliases) are merged into one match. Never throws for bad versions:
 * they are counted in `stats.invalidVersions` and skipped.
 */
export function matchPackage(
  pkg: PackageRecord,
  index: AdvisoryIndex,
  stats: MatchStats = emptyMatchStats(),
): VulnerabilityMatch[] {
  const parts = ecosystemParts(pkg.ecosystem);
  const baseScheme = schemeForBase(parts.base);
  if (baseScheme === null) {
    stats.unsupportedEcosystems += 1;
    return [];
  }
  const bySource = parts.base === "Debian" || parts.base === "Ubuntu";
  const name = bySource && pkg.sourceName ? pkg.sourceName : pkg.name;
  const version = bySource && pkg.sourceName && pkg.sourceVersion ? pkg.sourceVersion : pkg.version;
  const candidates = index.candidates(pkg.ecosystem, name);
  if (candidates.length === 0) return [];
  if (!baseScheme.isValid(version)) {
    stats.invalidVersions += 1;
    return [];
  }
  const order = orderFor(index, `${pkg.ecosystem}\u0000${name}`, candidates, baseScheme);
  const subject: Subject = { version, rank: order.rank(version), order, scheme: order.schemeFor(version) };

  const byAdvisory = new Map<string, AdvisoryEntry[]>();
  for (const c of candidates) {
    const list = byAdvisory.get(c.id);
    if (list === undefined) byAdvisory.set(c.id, [c]);
    else list.push(c);
  }
  const hits = new Map<string, Hit>();
  for (const [id, entries] of byAdvisory) {
    const hit = evaluate(entries, subject, stats);
    if (hit !== null) hits.set(id, hit);
  }
  if (hits.size === 0) return [];

  const groups = aliasGroups(groupAliases([...hits.values()].map((h) => h.entry)));
  const matches: VulnerabilityMatch[] = [];
  for (const ids of groups.values()) {
    const members = ids.flatMap((id) => {
      const hit = hits.get(id);
      return hit === undefined ? [] : [hit];
    });
    if (members.length === 0) continue;
    const aliases = [...ids].sort(byString);
    const advisoryIds = members.map((m) => m.entry.id).sort(byString);
    let fixed: string | null = null;
    try {
      // Over every entry of the merged advisories: the fix must leave all of them behind.
      fixed = lowestFix(
        members.flatMap((m) => m.entries),
        subject,
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      stats.invalidVersions += 1;
    }
    let severity: VulnerabilityMatch["severity"] = { score: null, vector: null };
    for (const m of members) {
      const s = m.entry.severity;
      if (s.score !== null && (severity.score === null || s.score > severity.score)) {
        severity = { score: s.score, vector: s.vector };
      }
    }
    matches.push({ vulnId: displayId(aliases, advisoryIds), advisoryIds, aliases, fixed, severity });
  }
  return matches.sort((a, b) => byString(a.vulnId, b.vulnId));
}
