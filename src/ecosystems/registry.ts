import { AppError } from "../domain/errors.js";
import { debScheme } from "./deb/deb-scheme.js";
import { goScheme } from "./go/go-scheme.js";
import { mavenScheme } from "./maven/maven-scheme.js";
import { pypiScheme } from "./pypi/pypi-scheme.js";
import { rpmScheme } from "./rpm/rpm-scheme.js";
import type { Ordering, VersionScheme } from "./scheme.js";
import { semverScheme } from "./semver/semver-scheme.js";

/** Every registered version scheme, by id. The one place a scheme is registered. */
export const SCHEMES: ReadonlyMap<string, VersionScheme> = new Map<string, VersionScheme>([
  [debScheme.id, debScheme],
  [rpmScheme.id, rpmScheme],
  [semverScheme.id, semverScheme],
  [pypiScheme.id, pypiScheme],
  [mavenScheme.id, mavenScheme],
  [goScheme.id, goScheme],
]);

/** OSV ecosystem base names (ossf/osv-schema ecosystems.json spelling) and the scheme each uses. */
export const OSV_ECOSYSTEMS: ReadonlyArray<{ name: string; scheme: string }> = [
  { name: "Debian", scheme: "deb" },
  { name: "Ubuntu", scheme: "deb" },
  { name: "Red Hat", scheme: "rpm" },
  { name: "AlmaLinux", scheme: "rpm" },
  { name: "Rocky Linux", scheme: "rpm" },
  { name: "SUSE", scheme: "rpm" },
  { name: "openSUSE", scheme: "rpm" },
  { name: "npm", scheme: "semver" },
  { name: "crates.io", scheme: "semver" },
  { name: "PyPI", scheme: "pypi" },
  { name: "Maven", scheme: "maven" },
  { name: "Go", scheme: "go" },
];

/** Short aliases and the OSV base name each stands for. */
export const ECOSYSTEM_ALIASES: ReadonlyArray<{ alias: string; ecosystem: string }> = [
  { alias: "deb", ecosystem: "Debian" },
  { alias: "rpm", ecosystem: "Red Hat" },
  { alias: "pypi", ecosystem: "PyPI" },
  { alias: "maven", ecosystem: "Maven" },
  { alias: "go", ecosystem: "Go" },
  { alias: "cargo", ecosystem: "crates.io" },
  { alias: "npm", ecosystem: "npm" },
  { alias: "semver", ecosystem: "npm" },
];

const BY_LOWER_NAME = new Map<string, string>([
  ...OSV_ECOSYSTEMS.map((e) => [e.name.toLowerCase(), e.name] as const),
  ...ECOSYSTEM_ALIASES.map((a) => [a.alias, a.ecosystem] as const),
]);
const SCHEME_BY_NAME = new Map<string, string>(OSV_ECOSYSTEMS.map((e) => [e.name, e.scheme]));

function knownNames(): string {
  return [...OSV_ECOSYSTEMS.map((e) => e.name), ...ECOSYSTEM_ALIASES.map((a) => a.alias)].join(", ");
}

/**
 * The OSV base name for an ecosystem, an OSV name with a release suffix or an alias, case-insensitively:
 * "debian:12" → "Debian", "Red Hat:enterprise_linux:9::appstream" → "Red Hat", "cargo" → "crates.io".
 */
export function canonicalEcosystem(ecosystem: string): string {
  const base = ecosystem.split(":", 1)[0]?.trim().toLowerCase() ?? "";
  const name = BY_LOWER_NAME.get(base);
  if (name === undefined) {
    throw new AppError(
      "unsupported",
      `unsupported ecosystem ${JSON.stringify(ecosystem)}; known: ${knownNames()}`,
      {
        details: { ecosystem },
      },
    );
  }
  return name;
}

/** The version scheme for an OSV ecosystem name or alias; AppError("unsupported") for an unknown one. */
export function schemeForEcosystem(ecosystem: string): VersionScheme {
  const id = SCHEME_BY_NAME.get(canonicalEcosystem(ecosystem));
  const scheme = id === undefined ? undefined : SCHEMES.get(id);
  if (scheme === undefined) throw new AppError("internal", `no scheme registered for ${ecosystem}`);
  return scheme;
}

/** Orders two versions of one ecosystem; throws ValidationError for an invalid version. */
export function compareVersions(ecosystem: string, a: string, b: string): Ordering {
  return schemeForEcosystem(ecosystem).compare(a, b);
}
