import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

/** A parsed Go module version; numbers stay strings because Go compares them at any length. */
export interface GoVersion {
  major: string;
  minor: string;
  patch: string;
  prerelease: string[];
  incompatible: boolean;
}

const ECOSYSTEM = "Go";
const NUMBER = "(0|[1-9][0-9]*)";
const SHAPE = new RegExp(
  `^v?${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-([0-9A-Za-z.-]+))?(?:\\+([0-9A-Za-z.-]+))?$`,
);
// Pseudo-versions (cmd/go "Pseudo-versions"): vX.0.0-yyyymmddhhmmss-hash, vX.Y.Z-pre.0.yyyymmddhhmmss-hash, vX.Y.Z-0.yyyymmddhhmmss-hash.
const PSEUDO =
  /^v?[0-9]+\.[0-9]+\.[0-9]+-(?:[0-9A-Za-z.-]*\.)?(?:0\.)?[0-9]{14}-[0-9a-f]{12}(?:\+incompatible)?$/;

function parse(version: string): GoVersion | string {
  if (version === "") return "version is empty";
  const m = SHAPE.exec(version);
  if (m === null) return "not [v]MAJOR.MINOR.PATCH[-PRERELEASE][+incompatible] (canonical semantic version)";
  const [, major = "", minor = "", patch = "", pre, build] = m;
  const prerelease = pre === undefined ? [] : pre.split(".");
  for (const id of prerelease) {
    if (id === "") return `pre-release "${pre}" has an empty identifier`;
    if (/^0[0-9]+$/.test(id)) return `pre-release identifier "${id}" has a leading zero`;
  }
  if (build !== undefined && build !== "incompatible") {
    return `build metadata "+${build}" is not allowed (only +incompatible)`;
  }
  // The go command rejects +incompatible below v2: v0 and v1 are always compatible (golang.org/x/mod/module).
  if (build === "incompatible" && (major === "0" || major === "1")) {
    return `+incompatible is not allowed on major version v${major}`;
  }
  return { major, minor, patch, prerelease, incompatible: build !== undefined };
}

/** Parses a Go module version (`v` optional, as OSV omits it); throws ValidationError naming the offending part. */
export function parseGoVersion(version: string): GoVersion {
  const result = parse(version);
  if (typeof result === "string") throw invalidVersion(ECOSYSTEM, version, result);
  return result;
}

/** True for a pseudo-version such as `0.0.0-20191109021931-daa7c04131f5`. */
export function isPseudoVersion(version: string): boolean {
  return PSEUDO.test(version) && typeof parse(version) !== "string";
}

function compareNumbers(a: string, b: string): Ordering {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Go's semver.Compare (golang.org/x/mod/semver), written here because npm's semver stops at 2^53-1 while Go
 * compares numbers of any length. `+incompatible` is build metadata and does not affect the order.
 */
export function compareGoParsed(a: GoVersion, b: GoVersion): Ordering {
  const core =
    compareNumbers(a.major, b.major) || compareNumbers(a.minor, b.minor) || compareNumbers(a.patch, b.patch);
  if (core !== 0) return core;
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    if (a.prerelease.length === b.prerelease.length) return 0;
    return a.prerelease.length === 0 ? 1 : -1;
  }
  for (let k = 0; k < Math.min(a.prerelease.length, b.prerelease.length); k++) {
    const x = a.prerelease[k] ?? "";
    const y = b.prerelease[k] ?? "";
    const xNum = /^[0-9]+$/.test(x);
    const yNum = /^[0-9]+$/.test(y);
    if (xNum !== yNum) return xNum ? -1 : 1;
    const c = xNum ? compareNumbers(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  if (a.prerelease.length === b.prerelease.length) return 0;
  return a.prerelease.length < b.prerelease.length ? -1 : 1;
}

export const goScheme: VersionScheme = {
  id: "go",
  isValid: (version) => typeof parse(version) !== "string",
  compare: (a, b) => compareGoParsed(parseGoVersion(a), parseGoVersion(b)),
};
