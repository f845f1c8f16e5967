/** Invariant 1: how many assets are out of service per group and per region, and whether one more fits. */
import type { PlanV2 } from "../changes/plan.js";
import { type AssetState, UNAVAILABLE_ASSET_STATES } from "./model.js";

export interface Placed {
  group: string;
  region: string;
  state: AssetState;
}

export interface UnavailableCounts {
  group: Map<string, number>;
  region: Map<string, number>;
}

export function isUnavailable(state: AssetState): boolean {
  return UNAVAILABLE_ASSET_STATES.includes(state);
}

export function unavailableCounts(assets: Iterable<Placed>): UnavailableCounts {
  const counts: UnavailableCounts = { group: new Map(), region: new Map() };
  for (const a of assets) {
    if (!isUnavailable(a.state)) continue;
    counts.group.set(a.group, (counts.group.get(a.group) ?? 0) + 1);
    counts.region.set(a.region, (counts.region.get(a.region) ?? 0) + 1);
  }
  return counts;
}

/** The plan's limit; a group or region the plan does not name gets the strictest useful one, 1. */
export function limitOf(plan: PlanV2, kind: "group" | "region", name: string): number {
  const limit = plan.maxUnavailable[kind][name];
  return limit === undefined || !Number.isFinite(limit) ? 1 : Math.max(1, Math.floor(limit));
}

/** Whether taking one more asset of this group and region out keeps both within the plan's limits. */
export function fitsOneMore(plan: PlanV2, counts: UnavailableCounts, asset: Placed): boolean {
  return (
    (counts.group.get(asset.group) ?? 0) + 1 <= limitOf(plan, "group", asset.group) &&
    (counts.region.get(asset.region) ?? 0) + 1 <= limitOf(plan, "region", asset.region)
  );
}

export function countOneMore(counts: UnavailableCounts, asset: Placed): void {
  counts.group.set(asset.group, (counts.group.get(asset.group) ?? 0) + 1);
  counts.region.set(asset.region, (counts.region.get(asset.region) ?? 0) + 1);
}
