import { dpkgQueryFormat, runDpkgTool } from "./tool.js";

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

/**
 * The package `name` in the database at `admindir`, or null when dpkg has never heard of it. With
 * several architectures installed (Multi-Arch: same), the one of `arch` wins, else the first.
 */
export async function readPackageState(
  admindir: string,
  name: string,
  arch?: string,
): Promise<PackageState | null> {
  // dpkg-query exits 1 for a package it has never heard of; that is "not installed", not an error.
  const { stdout, exitCode } = await runDpkgTool(
    "dpkg-query",
    [
      `--admindir=${admindir}`,
      "-W",
      `-f=${dpkgQueryFormat(["Package", "Version", "Architecture", "db:Status-Abbrev"])}`,
      "--",
      name,
    ],
    { allowExitCodes: [1] },
  );
  if (exitCode !== 0) return null;
  const states: PackageState[] = [];
  for (const line of stdout.split("\n")) {
    const [pkg, version, pkgArch, abbrev] = line.split("\t");
    if (!pkg || abbrev === undefined) continue;
    states.push({ name: pkg, version: version ?? "", arch: pkgArch ?? "", state: abbrev[1] ?? "n" });
  }
  return states.find((s) => s.arch === arch) ?? states[0] ?? null;
}

/** The version installed (files in place), or null: what "read the version back" means. */
export async function installedVersionOf(admindir: string, name: string): Promise<string | null> {
  const state = await readPackageState(admindir, name);
  return state && isFullyInstalled(state) ? state.version : null;
}

/** Control fields of a .deb file, read with `dpkg-deb -f` (no extraction). */
export async function debFields(path: string): Promise<{ name: string; version: string; arch: string }> {
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
