/**
 * The releases an OSV ecosystem suffix may name for the dpkg distributions. OSV's ecosystems.json
 * defines them by Debian's distro-info-data: `Debian:<version>` with the `version` column of
 * debian.csv (or the series where there is no number: `Debian:sid`), and `Ubuntu:<version>` from
 * ubuntu.csv with `:LTS` on LTS releases and an optional `Pro:` before ESM ones (the matcher reads
 * "Ubuntu:22.04" as "Ubuntu:22.04:LTS", so the plain number of an LTS release is taken too).
 * The lists below are distro-info-data 0.58+deb12u6 (/usr/share/distro-info/debian.csv and
 * ubuntu.csv); add a line here when a distribution announces a release.
 */
import { ValidationError } from "../domain/errors.js";
import { splitEcosystem } from "./purl.js";

// debian.csv `version` (the series for the rows without one).
const DEBIAN = [
  ...["1.1", "1.2", "1.3", "2.0", "2.1", "2.2", "3.0", "3.1", "4.0", "5.0", "6.0"],
  ...["7", "8", "9", "10", "11", "12", "13", "14", "15"],
  ...["sid", "experimental"],
];

// ubuntu.csv `version`, LTS releases (" LTS" in the file) apart.
const UBUNTU_LTS = [
  "6.06",
  "8.04",
  "10.04",
  "12.04",
  "14.04",
  "16.04",
  "18.04",
  "20.04",
  "22.04",
  "24.04",
  "26.04",
];
const UBUNTU_OTHER = [
  ...["4.10", "5.04", "5.10", "6.10", "7.04", "7.10", "8.10", "9.04", "9.10", "10.10", "11.04", "11.10"],
  ...["12.10", "13.04", "13.10", "14.10", "15.04", "15.10", "16.10", "17.04", "17.10", "18.10", "19.04"],
  ...["19.10", "20.10", "21.04", "21.10", "22.10", "23.04", "23.10", "24.10", "25.04", "25.10"],
];

/** Every release suffix OSV may use, per distribution. */
export const DISTRO_RELEASES: Readonly<Record<"Debian" | "Ubuntu", ReadonlySet<string>>> = {
  Debian: new Set(DEBIAN),
  Ubuntu: new Set([
    ...UBUNTU_OTHER,
    ...UBUNTU_LTS,
    ...UBUNTU_LTS.map((v) => `${v}:LTS`),
    ...UBUNTU_LTS.map((v) => `Pro:${v}:LTS`),
  ]),
};

const isDistro = (base: string): base is "Debian" | "Ubuntu" => base === "Debian" || base === "Ubuntu";

/** True for "Debian" or "Ubuntu" with no release: only advisories without a release apply to it. */
export function lacksRelease(ecosystem: string): boolean {
  const { base, release } = splitEcosystem(ecosystem);
  return isDistro(base) && release === null;
}

/** Why a Debian or Ubuntu release suffix is not one OSV knows; null when it is (or there is none). */
export function releaseProblem(ecosystem: string): string | null {
  const { base, release } = splitEcosystem(ecosystem);
  if (!isDistro(base) || release === null) return null;
  if (DISTRO_RELEASES[base].has(release)) return null;
  const known =
    base === "Debian" ? "Debian:11, Debian:12, Debian:13, Debian:sid" : "Ubuntu:22.04:LTS, Ubuntu:24.10";
  return `${base} has no release "${release}" (releases as OSV names them: ${known}, …)`;
}

/** Throws ValidationError (inventory.unknown-release) at `where` for a release the distribution does not have. */
export function requireKnownRelease(ecosystem: string, where: string): void {
  const problem = releaseProblem(ecosystem);
  if (problem !== null) throw new ValidationError(problem, { reason: "inventory.unknown-release", where });
}

/** The warning `scan` and imports print for dpkg packages without a release. */
export const NO_RELEASE_WARNING =
  "the dpkg packages name no release (give --ecosystem Debian:12, Ubuntu:22.04, …): " +
  "only advisories without a release apply to them";

/** Warnings for packages of a dpkg distribution without a release (a dpkg file or an SBOM's deb purls). */
export function releaseWarnings(packages: ReadonlyArray<{ ecosystem: string }>): string[] {
  const without = packages.filter((p) => lacksRelease(p.ecosystem)).length;
  if (without === 0) return [];
  if (without === packages.length) return [NO_RELEASE_WARNING];
  return [
    `${without} of the ${packages.length} packages are Debian or Ubuntu packages that name no release: ` +
      "only advisories without a release apply to them",
  ];
}
