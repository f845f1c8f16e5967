import { statSync } from "node:fs";
import { join } from "node:path";
import type { PackageRecord } from "../domain/inventory.js";
import { type DpkgListing, dpkgListing } from "../dpkg/package-listing.js";
import { dpkgStateIsInstalled } from "../inventory/importers/dpkg-installed.js";
import { packageToPurl } from "../inventory/purl.js";

// Moved to src/dpkg so that snapshot providers can run dpkg without depending on the agent.
export { dpkgQueryFormat, runDpkgTool, type ToolResult } from "../dpkg/tool.js";

export interface DpkgListOptions {
  /** dpkg database folder (…/var/lib/dpkg); the system's own when omitted. */
  admindir?: string;
  /** OSV ecosystem to stamp on every record ("Debian:12"); "Debian" when omitted. */
  ecosystem?: string;
  /** purl `distro` qualifier ("debian-12"); left out of the purl when omitted. */
  distro?: string;
}

/** Lists the installed packages of a dpkg database as PackageRecords, sorted by name then arch. */
export async function listDpkgPackages(options: DpkgListOptions = {}): Promise<PackageRecord[]> {
  // The shared listing (src/dpkg/package-listing.ts) starts with these fields: after an install, the
  // version read back and this report come from one dpkg-query.
  const listing = await dpkgListing(options.admindir ?? "/var/lib/dpkg");
  const key = `${options.ecosystem ?? ""}\0${options.distro ?? ""}`;
  const known = recordsByListing.get(listing);
  if (known?.key === key) return known.records.map((r) => ({ ...r }));
  const records = parseDpkgQueryOutput(listing.stdout, options);
  recordsByListing.set(listing, { key, records });
  return records.map((r) => ({ ...r }));
}

/**
 * The records of each listing, parsed once: the report a heartbeat sends and the one a result carries
 * read the same listing. Callers get copies, so that none changes another's.
 */
const recordsByListing = new WeakMap<DpkgListing, { key: string; records: PackageRecord[] }>();

/**
 * Parses dpkg-query output of LISTING_FIELDS (src/dpkg/package-listing.ts), one line per package:
 * `binary:Package` (arch-qualified for Multi-Arch: same) is read but the plain `Package` is reported;
 * `source:Package`/`source:Version` fall back to the binary's own name and version when the control
 * file has no Source field. Exported for unit tests over captured output.
 */
export function parseDpkgQueryOutput(
  stdout: string,
  options: { ecosystem?: string; distro?: string } = {},
): PackageRecord[] {
  const ecosystem = options.ecosystem ?? "Debian";
  const records: PackageRecord[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const [, name, version, arch, sourceName, sourceVersion, state] = line.split("\t");
    if (!name || !version || state === undefined) continue;
    if (!dpkgStateIsInstalled(state)) continue;
    records.push({
      ecosystem,
      name,
      version,
      sourceName: sourceName || name,
      sourceVersion: sourceVersion || version,
      arch: arch || null,
      purl: packageToPurl({ ecosystem, name, version, arch: arch || null, distro: options.distro ?? null }),
    });
  }
  records.sort((a, b) => cmp(a.name, b.name) || cmp(a.arch ?? "", b.arch ?? ""));
  return records;
}

/**
 * A cheap change marker for a dpkg database: dpkg rewrites `status` through a rename on every
 * change, so inode, size and mtime together move whenever packages do — no dpkg-query needed.
 */
export function dpkgStateFingerprint(admindir: string): string {
  // Looked at on every poll while idle: one synchronous stat costs less than the promise API's round trip.
  const s = statSync(join(admindir, "status"), { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
