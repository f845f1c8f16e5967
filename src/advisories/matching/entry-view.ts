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

export function entryView(affected: OsvAffected): EntryView {
  let view = views.get(affected);
  if (view === undefined) {
    const { versions: _versions, ...rangesOnly } = affected;
    view = {
      rangesOnly,
      gitRanges: (affected.ranges ?? []).filter((r) => r.type === "GIT").length,
    };
    views.set(affected, view);
  }
  return view;
}
