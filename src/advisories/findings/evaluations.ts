/** The matcher over one run, with the facts of each match built once per kind of asset. */
import type { Policy } from "../../policy/schema.js";
import type { AdvisoryIndex } from "../matching/advisory-index.js";
import { ecosystemParts } from "../matching/ecosystem-key.js";
import { emptyMatchStats, matchPackage, type VulnerabilityMatch } from "../matching/match.js";
import { riskScore } from "../prioritise.js";
import type { AssetContext } from "./asset-context.js";
import type { ExploitFacts } from "./exploit-facts.js";
import type { PackageVersion } from "./installed-rows.js";
import { type FindingFacts, findingFacts } from "./reconcile.js";

/**
 * What a package is matched as: Debian and Ubuntu packages by their source name and version, others
 * by their own. Packages with equal subjects have equal matches.
 */
export function subjectOf(v: PackageVersion): string {
  const base = ecosystemParts(v.ecosystem).base;
  const bySource = (base === "Debian" || base === "Ubuntu") && Boolean(v.source_name);
  const name = bySource ? (v.source_name as string) : v.name;
  const version = bySource && v.source_version ? v.source_version : v.version;
  return `${v.ecosystem}\u0000${name}\u0000${version}`;
}

/**
 * The matcher over one run: each distinct package version is evaluated once. Debian and Ubuntu
 * packages are matched through their source name and version (the matcher's contract), so the
 * binaries of one source share one evaluation too.
 */
export class Evaluations {
  readonly stats = emptyMatchStats();
  readonly #index: AdvisoryIndex;
  readonly #bySubject = new Map<string, VulnerabilityMatch[]>();
  readonly #facts = new WeakMap<VulnerabilityMatch, Map<string, FindingFacts>>();
  #evaluated = 0;

  constructor(index: AdvisoryIndex) {
    this.#index = index;
  }

  /** Package versions evaluated (distinct matching subjects). */
  get evaluated(): number {
    return this.#evaluated;
  }

  matches(v: PackageVersion): VulnerabilityMatch[] {
    const subject = subjectOf(v);
    let found = this.#bySubject.get(subject);
    if (found === undefined) {
      found = matchPackage(
        {
          ecosystem: v.ecosystem,
          name: v.name,
          version: v.version,
          sourceName: v.source_name,
          sourceVersion: v.source_version,
        },
        this.#index,
        this.stats,
      );
      this.#bySubject.set(subject, found);
      this.#evaluated += 1;
    }
    return found;
  }

  /**
   * The facts of a match for an asset, built once per match and kind of asset (criticality and the
   * labels the risk formula reads) however many assets share them.
   */
  facts(m: VulnerabilityMatch, asset: AssetContext, exploit: ExploitFacts, policy: Policy): FindingFacts {
    const kind = asset.riskKind;
    let byKind = this.#facts.get(m);
    if (byKind === undefined) {
      byKind = new Map();
      this.#facts.set(m, byKind);
    }
    let facts = byKind.get(kind);
    if (facts === undefined) {
      const kev = exploit.knownExploited(m.aliases);
      const epss = exploit.epss(m.aliases);
      const risk = riskScore({ cvss: m.severity.score, epss, knownExploited: kev, ...asset.risk }, policy);
      facts = findingFacts({
        vulnId: m.vulnId,
        advisoryIds: JSON.stringify(m.advisoryIds),
        aliases: JSON.stringify(m.aliases),
        fixedVersion: m.fixed,
        severityScore: m.severity.score,
        severityVector: m.severity.vector,
        epss,
        kev: kev ? 1 : 0,
        riskScore: risk.score,
        class: risk.class,
      });
      byKind.set(kind, facts);
    }
    return facts;
  }
}
