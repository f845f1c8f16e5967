/**
 * What the matcher needs of one affected[] entry, worked out once per entry: the entry without its
 * `versions` list (looked up by rank instead, see VersionOrder.listed) and its number of GIT ranges.
 */
import type { OsvAffected } from "../osv/schema.js";

export interface EntryView {
  /** The entry with `versions` left out, for the range evaluator. */
  rangesOnly: OsvAffected;
  /** GIT ranges of the entry: never evaluated, counted. */
  gitRanges: number;
}

const views = new WeakMap<OsvAffected, EntryView>();

/** GIT ranges of an entry. */
export function gitRangesOf(affected: OsvAffected): number {
  let n = 0;
  for (const r of affected.ranges ?? []) if (r.type === "GIT") n += 1;
  return n;
}

/**
 * An entry without a `versions` list is its own ranges-only entry: only entries with one are copied and
 * remembered. Most entries (every Debian one) have none, and a weak map entry for each of them cost a
 * look-up per evaluation and collector time for as long as the advisories were held.
 */
export function rangesOnly(affected: OsvAffected): OsvAffected {
  return affected.versions === undefined ? affected : entryView(affected).rangesOnly;
}

export function entryView(affected: OsvAffected): EntryView {
  let view = views.get(affected);
  if (view === undefined) {
    const { versions: _versions, ...rangesOnly } = affected;
    view = {
      rangesOnly,
      gitRanges: gitRangesOf(affected),
    };
    views.set(affected, view);
  }
  return view;
}
