/**
 * The versions an advisory set names, put in order once. Matching one package compares its installed
 * version with the same event versions again and again; ranking them up front turns each of those
 * comparisons into two map look-ups, and each version is parsed only while the table is built.
 */
import type { Ordering, VersionScheme } from "../../ecosystems/scheme.js";
import type { OsvAffected } from "../osv/schema.js";

/** The event and `versions` strings of entries that the scheme accepts ("0" and "*" are special). */
export function versionsNamedBy(entries: Iterable<OsvAffected>, scheme: VersionScheme): Set<string> {
  const out = new Set<string>();
  for (const entry of entries) {
    for (const v of entry.versions ?? []) if (scheme.isValid(v)) out.add(v);
    for (const range of entry.ranges ?? []) {
      if (range.type === "GIT") continue;
      for (const event of range.events) {
        for (const v of Object.values(event))
          if (v !== "0" && !v.includes("*") && scheme.isValid(v)) out.add(v);
      }
    }
  }
  return out;
}

export class VersionOrder {
  readonly #scheme: VersionScheme;
  /** Distinct versions, ascending. */
  readonly #sorted: string[];
  /** Rank of each version of #sorted at the same index; versions the scheme orders equal share one. */
  readonly #ranks: number[];
  readonly #rankOf = new Map<string, number>();
  /** Ranks of each entry's `versions` list, filled on first use. */
  readonly #listed = new Map<OsvAffected, Set<number>>();

  constructor(scheme: VersionScheme, versions: Iterable<string>) {
    this.#scheme = scheme;
    this.#sorted = [...new Set(versions)].sort((a, b) => scheme.compare(a, b));
    this.#ranks = [];
    let rank = 0;
    this.#sorted.forEach((v, i) => {
      const previous = this.#sorted[i - 1];
      if (previous !== undefined && scheme.compare(previous, v) !== 0) rank += 1;
      this.#ranks.push(rank);
      this.#rankOf.set(v, rank);
    });
  }

  get size(): number {
    return this.#sorted.length;
  }

  /** Rank of any valid version: a known one's own, else halfway between its neighbours (binary search). */
  rank(version: string): number {
    const known = this.#rankOf.get(version);
    if (known !== undefined) return known;
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#scheme.compare(this.#sorted[mid] as string, version) < 0) lo = mid + 1;
      else hi = mid;
    }
    const at = this.#sorted[lo];
    const rankAt = this.#ranks[lo] ?? (this.#ranks[this.#ranks.length - 1] ?? -1) + 1;
    return at !== undefined && this.#scheme.compare(at, version) === 0 ? rankAt : rankAt - 0.5;
  }

  /**
   * Whether the entry's `versions` list names a version of this rank: the list lookup of the OSV
   * evaluation (a listed version the scheme orders equal matches too) in one set look-up.
   */
  listed(entry: OsvAffected, rank: number): boolean {
    if (entry.versions === undefined || entry.versions.length === 0) return false;
    let ranks = this.#listed.get(entry);
    if (ranks === undefined) {
      ranks = new Set();
      for (const v of entry.versions) if (this.#scheme.isValid(v)) ranks.add(this.rank(v));
      this.#listed.set(entry, ranks);
    }
    return ranks.has(rank);
  }

  /**
   * The scheme, answering from the table for the installed version (a valid one, as rank() takes) and
   * every version in the table (valid: the scheme ordered them); any other version falls back to the
   * scheme's own answers. The evaluator checks the installed version and every event version on each
   * call: the table's few hundred entries answer faster than the scheme's memo of every version seen.
   */
  schemeFor(installed: string): VersionScheme {
    const scheme = this.#scheme;
    const ranks = this.#rankOf;
    const installedRank = this.rank(installed);
    const rankOf = (v: string): number | undefined => (v === installed ? installedRank : ranks.get(v));
    return {
      id: scheme.id,
      isValid: (v) => v === installed || ranks.has(v) || scheme.isValid(v),
      compare(a, b): Ordering {
        const ra = rankOf(a);
        const rb = rankOf(b);
        if (ra === undefined || rb === undefined) return scheme.compare(a, b);
        return ra < rb ? -1 : ra > rb ? 1 : 0;
      },
    };
  }
}
