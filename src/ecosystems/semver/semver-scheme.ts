import { SemVer } from "semver";
import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

const ECOSYSTEM = "SemVer (npm, crates.io)";

/** The reason npm's `semver` rejects `version` (its own message), or the parsed version. */
function parse(version: string): SemVer | string {
  if (version.trim() === "") return "version is empty";
  try {
    // Strict mode: the grammar npm publishes with (an optional leading "v" is allowed, as npm allows it).
    return new SemVer(version, { loose: false });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // npm's messages are "Invalid Version: <input>" and "Invalid <part> version" (a number above 2^53-1).
    const part = /^Invalid (major|minor|patch) version$/.exec(message)?.[1];
    if (part !== undefined) return `${part} version is larger than npm's limit (2^53-1)`;
    return "not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (SemVer 2.0.0)";
  }
}

/** Parses with npm's `semver`; throws ValidationError naming the offending part. */
export function parseSemver(version: string): SemVer {
  const result = parse(version);
  if (typeof result === "string") throw invalidVersion(ECOSYSTEM, version, result);
  return result;
}

/** SemVer 2.0.0 precedence (§11): build metadata is ignored. */
export function compareSemverParsed(a: SemVer, b: SemVer): Ordering {
  return a.compare(b);
}

export const semverScheme: VersionScheme = {
  id: "semver",
  isValid: (version) => typeof parse(version) !== "string",
  compare: (a, b) => compareSemverParsed(parseSemver(a), parseSemver(b)),
};
