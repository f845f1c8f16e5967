/**
 * How the matcher keys packages and advisories: the canonical OSV ecosystem base name, the release the
 * ecosystem string names (if any) and the package name as the ecosystem compares names.
 */
import { AppError } from "../../domain/errors.js";
import { normalizePypiName } from "../../ecosystems/pypi/pypi-name.js";
import { canonicalEcosystem } from "../../ecosystems/registry.js";

export interface EcosystemParts {
  /** Canonical OSV base name ("Debian", "npm", "AlmaLinux"); an unknown base is kept as written. */
  base: string;
  /** "12" of "Debian:12", "22.04" of "Ubuntu:22.04:LTS"; "" when the ecosystem names no release. */
  release: string;
  /** False when no version scheme is registered for the base (RubyGems, Packagist, …). */
  supported: boolean;
}

// Parsing an ecosystem string goes through the registry's error path for unknown ones, so results are
// kept; the cap only guards against unbounded growth on hostile input.
const CACHE_LIMIT = 4096;
const cache = new Map<string, EcosystemParts>();

function releaseOf(base: string, rest: string): string {
  const release = rest.trim();
  // Ubuntu's OSV data writes LTS releases as "Ubuntu:22.04:LTS"; packages say "Ubuntu:22.04".
  return base === "Ubuntu" ? release.replace(/:LTS$/i, "") : release;
}

/** Splits an OSV ecosystem ("Debian:12", "Ubuntu:22.04:LTS", "npm", "cargo") into base and release. */
export function ecosystemParts(ecosystem: string): EcosystemParts {
  const hit = cache.get(ecosystem);
  if (hit !== undefined) return hit;
  const colon = ecosystem.indexOf(":");
  const rawBase = (colon < 0 ? ecosystem : ecosystem.slice(0, colon)).trim();
  let base = rawBase;
  let supported = true;
  try {
    base = canonicalEcosystem(rawBase);
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== "unsupported") throw err;
    supported = false;
  }
  const parts: EcosystemParts = {
    base,
    release: colon < 0 ? "" : releaseOf(base, ecosystem.slice(colon + 1)),
    supported,
  };
  if (cache.size < CACHE_LIMIT) cache.set(ecosystem, parts);
  return parts;
}

/** The name as the ecosystem compares it: PyPI names are PEP 503-normalised, others are exact. */
export function matchName(base: string, name: string): string {
  return base === "PyPI" ? normalizePypiName(name) : name;
}

/** The index key of a package: canonical base and name, separated by a NUL no name contains. */
export function packageKey(base: string, name: string): string {
  return `${base}\u0000${matchName(base, name)}`;
}
