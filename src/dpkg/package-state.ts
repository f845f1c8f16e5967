import { statSync } from "node:fs";
import { readDebControl } from "./deb-control.js";
import { type DpkgListing, dpkgListing } from "./package-listing.js";
import { runDpkgTool } from "./tool.js";

/** dpkg's view of one package in a database: the version and whether its files are fully in place. */
export interface PackageState {
  name: string;
  version: string;
  arch: string;
  /** `db:Status-Abbrev` second letter: i installed, c config-files, U unpacked, F half-configured, … */
  state: string;
}

/** Every state but "not installed" and "config files only" leaves the package's files on disk. */
export function hasFilesInstalled(state: PackageState): boolean {
  return state.state !== "n" && state.state !== "c";
}

/** Fully installed: what dpkg-repack can rebuild and what a verified install must end in. */
export function isFullyInstalled(state: PackageState): boolean {
  return state.state === "i";
}

/** Each listing's states by package name, made at its first question: a listing is read once. */
const statesByListing = new WeakMap<DpkgListing, Map<string, PackageState[]>>();

function statesOf(listing: DpkgListing): Map<string, PackageState[]> {
  const known = statesByListing.get(listing);
  if (known) return known;
  const byName = new Map<string, PackageState[]>();
  for (const line of listing.stdout.split("\n")) {
    const [, pkg, version, pkgArch, , , , abbrev] = line.split("\t");
    if (pkg === undefined || abbrev === undefined) continue;
    const state = { name: pkg, version: version ?? "", arch: pkgArch ?? "", state: abbrev[1] ?? "n" };
    const states = byName.get(pkg);
    if (states) states.push(state);
    else byName.set(pkg, [state]);
  }
  statesByListing.set(listing, byName);
  return byName;
}

/**
 * The package `name` in the database at `admindir`, or null when dpkg has never heard of it. With
 * several architectures installed (Multi-Arch: same), the one of `arch` wins, else the first. Read
 * from the database's listing (src/dpkg/package-listing.ts): a new dpkg-query only when it changed,
 * and its lines are split once, whatever the number of packages asked about.
 */
export async function readPackageState(
  admindir: string,
  name: string,
  arch?: string,
): Promise<PackageState | null> {
  const states = statesOf(await dpkgListing(admindir)).get(name) ?? [];
  const found = states.find((s) => s.arch === arch) ?? states[0];
  return found === undefined ? null : { ...found };
}

/** The version installed (files in place), or null: what "read the version back" means. */
export async function installedVersionOf(admindir: string, name: string): Promise<string | null> {
  const state = await readPackageState(admindir, name);
  return state && isFullyInstalled(state) ? state.version : null;
}

export interface DebFields {
  name: string;
  version: string;
  arch: string;
}

/** Files whose fields are remembered; keyed by path and the file's identity, so a new file is read anew. */
const REMEMBERED_DEBS = 256;
const debCache = new Map<string, DebFields>();

/**
 * Control fields of a .deb file: read in-process when its control member is gzip (src/dpkg/deb-control.ts),
 * else with `dpkg-deb -f` (no extraction). The answer for one file (same
 * path, inode, size and times) is remembered: the install's check and its snapshot both ask.
 */
export async function debFields(path: string): Promise<DebFields> {
  const s = statOrNull(path);
  const key = s === null ? null : `${path}\0${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  const known = key === null ? undefined : debCache.get(key);
  if (known) return { ...known };
  const fields = (await readDebControl(path)) ?? (await readDebFields(path));
  if (key !== null) {
    debCache.set(key, fields);
    if (debCache.size > REMEMBERED_DEBS) {
      const oldest = debCache.keys().next();
      if (!oldest.done) debCache.delete(oldest.value);
    }
  }
  return { ...fields };
}

async function readDebFields(path: string): Promise<DebFields> {
  const { stdout } = await runDpkgTool("dpkg-deb", ["-f", "--", path, "Package", "Version", "Architecture"]);
  const fields = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return {
    name: fields.get("Package") ?? "",
    version: fields.get("Version") ?? "",
    arch: fields.get("Architecture") ?? "",
  };
}

/** A local file's identity, synchronously: one syscall, where the promise API adds a thread-pool trip. */
function statOrNull(path: string) {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
