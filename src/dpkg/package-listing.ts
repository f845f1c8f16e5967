import { statSync } from "node:fs";
import { join } from "node:path";
import { listingFromStatusFile } from "./status-file.js";
import { dpkgQueryFormat, runDpkgTool } from "./tool.js";

/**
 * Every field any caller reads from a database, in one `dpkg-query -W` of all packages: the
 * inventory's (binary name, name, version, architecture, source, status) and the per-package state
 * (`db:Status-Abbrev`). The first seven are the agent's inventory format; the eighth is appended.
 */
export const LISTING_FIELDS = [
  "binary:Package",
  "Package",
  "Version",
  "Architecture",
  "source:Package",
  "source:Version",
  "db:Status-Status",
  "db:Status-Abbrev",
] as const;

/** One run of dpkg-query over a database, and the change marker it was read at. */
export interface DpkgListing {
  marker: string;
  stdout: string;
}

/** Databases remembered: more than one process ever manages (a test fleet's agents share one). */
const CACHED_DATABASES = 2048;
const cache = new Map<string, DpkgListing>();

/**
 * What moves whenever the database does: dpkg writes `status` through a rename (a new inode, size and
 * times), and between its checkpoints journals into `updates/` (whose folder times move). Null when
 * there is no status file yet, which is never cached.
 */
export async function databaseMarker(admindir: string): Promise<string | null> {
  // Two stats of local files, made before every read of the database: synchronous, as one syscall
  // each costs less than the promise API's thread-pool round trips.
  const status = statOrNull(join(admindir, "status"));
  const updates = statOrNull(join(admindir, "updates"));
  if (status === null) return null;
  const u = updates === null ? "-" : `${updates.mtimeNs}:${updates.ctimeNs}`;
  return `${status.ino}:${status.size}:${status.mtimeNs}:${status.ctimeNs}:${u}`;
}

/**
 * The listing of every package in the database at `admindir`: the one read last when the database has
 * not changed since (its marker is the same), else read anew: from the status file itself, or with
 * `dpkg-query` when only dpkg can tell (src/dpkg/status-file.ts). The marker is read before the
 * query, so a change during it only makes the next call query again. One query thus serves the
 * version read back after an install, the inventory report that follows it and the next snapshot.
 */
export async function dpkgListing(admindir: string): Promise<DpkgListing> {
  const marker = await databaseMarker(admindir);
  const known = cache.get(admindir);
  if (marker !== null && known?.marker === marker) {
    // Re-inserted so that the Map's order stays least recently used first.
    cache.delete(admindir);
    cache.set(admindir, known);
    return known;
  }
  const stdout =
    (await listingFromStatusFile(admindir)) ??
    (
      await runDpkgTool("dpkg-query", [
        `--admindir=${admindir}`,
        "-W",
        `-f=${dpkgQueryFormat(LISTING_FIELDS)}`,
      ])
    ).stdout;
  const listing = { marker: marker ?? "", stdout };
  if (marker !== null) {
    cache.delete(admindir);
    cache.set(admindir, listing);
    if (cache.size > CACHED_DATABASES) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
  }
  return listing;
}

function statOrNull(path: string) {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
