/** Turns an SBOM entry's purl into a package record, the one way the CycloneDX and SPDX importers share. */
import { ValidationError } from "../../domain/errors.js";
import type { PackageRecord } from "../../domain/inventory.js";
import { type PurlDetails, parsePurl, purlToDetails } from "../purl.js";

/**
 * The record for a purl, or why it was skipped (unknown type, no version). `fallbackVersion` is the SBOM
 * entry's own version, used when the purl has none. A malformed purl throws ValidationError at `where`.
 */
export function recordFromPurl(
  purl: string,
  fallbackVersion: string | undefined,
  where: string,
): { record: PackageRecord } | { skip: string } {
  let full = purl.trim();
  let details: PurlDetails | null;
  try {
    if (parsePurl(full).version === undefined && fallbackVersion) {
      // The purl names no version: put the entry's own where the purl spec has it, before "?" or "#".
      full = full.replace(/(?=[?#]|$)/, `@${encodeURIComponent(fallbackVersion)}`);
    }
    details = purlToDetails(full);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(err.message, { where, cause: err });
    throw err;
  }
  if (details === null) return { skip: `no OSV ecosystem for package URL "${purl}"` };
  if (!details.version) return { skip: `no version in "${purl}"` };
  return {
    record: {
      ecosystem: details.ecosystem,
      name: details.name,
      version: details.version,
      sourceName: details.sourceName,
      sourceVersion: details.sourceVersion,
      arch: details.arch,
      purl: full,
    },
  };
}
