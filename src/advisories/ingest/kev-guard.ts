/**
 * What a KEV import may replace without `force`: CISA's catalog only grows (entries are almost never
 * taken out), so an older catalog or one that drops many entries is a stale mirror or a truncated
 * download, and importing it would quietly un-flag known-exploited vulnerabilities.
 */
import { reasonError } from "../../domain/errors.js";

/** More removed entries than this, or than MAX_REMOVED_SHARE of the stored ones, needs `force`. */
export const MAX_REMOVED_ENTRIES = 50;
export const MAX_REMOVED_SHARE = 0.1;

/**
 * Orders catalog versions ("2025.08.25", as CISA numbers them) by their numeric parts; versions
 * without any number are ordered as text.
 */
export function compareCatalogVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[^0-9]+/).filter((p) => p !== "");
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = BigInt(pa[i] ?? "0");
    const y = BigInt(pb[i] ?? "0");
    if (x !== y) return x < y ? -1 : 1;
  }
  if (pa.length > 0 && pb.length > 0) return 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface KevReplacement {
  incomingVersion: string;
  /** The newest catalog version stored; null when nothing is stored. */
  storedVersion: string | null;
  stored: number;
  removed: number;
  force: boolean;
}

/** Throws a conflict naming the catalog version or the removal count, unless forced. */
export function checkKevReplacement(r: KevReplacement): void {
  if (r.force) return;
  if (r.storedVersion !== null && compareCatalogVersions(r.incomingVersion, r.storedVersion) < 0) {
    throw reasonError(
      "kev.older-catalog",
      `catalog version ${r.incomingVersion} is older than the stored ${r.storedVersion}; pass force (CLI: --force) to import it anyway`,
      { where: "/catalogVersion", details: { incoming: r.incomingVersion, stored: r.storedVersion } },
    );
  }
  if (r.removed > MAX_REMOVED_ENTRIES || r.removed > r.stored * MAX_REMOVED_SHARE) {
    throw reasonError(
      "kev.mass-removal",
      `the catalog would remove ${r.removed} of the ${r.stored} stored KEV entries (more than ` +
        `${MAX_REMOVED_ENTRIES} or ${MAX_REMOVED_SHARE * 100} % needs force; CLI: --force)`,
      { where: "/vulnerabilities", details: { removed: r.removed, stored: r.stored } },
    );
  }
}
