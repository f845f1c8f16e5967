/** What every inventory importer returns, and the helpers they share. */
import type { PackageRecord } from "../../domain/inventory.js";

export interface SkippedEntry {
  /** `file:line` or `file#/json/pointer` of the entry that was left out. */
  where: string;
  reason: string;
}

export interface ImportResult {
  packages: PackageRecord[];
  skipped: SkippedEntry[];
}

/** Drops repeated (ecosystem, name, version, arch) records, keeping the first one seen. */
export function dedupePackages(records: readonly PackageRecord[]): PackageRecord[] {
  const seen = new Set<string>();
  const out: PackageRecord[] = [];
  for (const r of records) {
    const key = JSON.stringify([r.ecosystem, r.name, r.version, r.arch ?? null]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** Name used in `where` when the caller did not say which file the text came from. */
export const DEFAULT_INPUT_NAME = "<input>";
