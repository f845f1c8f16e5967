/** The CVE ids of a CISA KEV catalog, for marking findings known-exploited. */
import { parseKevCatalog } from "../kev.js";

/** Throws ValidationError at `file#/pointer` (`file:line:col` for bad JSON). */
export function knownExploitedIds(text: string, file: string): Set<string> {
  return new Set(parseKevCatalog(text, file).map((entry) => entry.cveID));
}
