/**
 * dpkg holds one instance of a package per architecture: a report that lists two versions of one
 * (package, arch) did not come from a real dpkg database, and the rollout engine could not tell which
 * one it is upgrading. Other ecosystems legitimately install several versions side by side (nested
 * npm dependencies, RPM's install-only kernels), so the rule applies to Debian and Ubuntu packages.
 */
import { ValidationError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { splitEcosystem } from "./purl.js";

const ONE_VERSION_PER_ARCH: ReadonlySet<string> = new Set(["Debian", "Ubuntu"]);

/**
 * The (ecosystem, name, arch) key by record object: a delta report checks the whole resulting set,
 * most of it the dictionary's own package objects, which keep their key across reports.
 */
const keys = new WeakMap<object, string>();

const plainKey = (p: PackageRecord) => `${p.ecosystem}\u0000${p.name}\u0000${p.arch ?? ""}`;

function keptKey(p: PackageRecord): string {
  let key = keys.get(p);
  if (key === undefined) {
    key = plainKey(p);
    keys.set(p, key);
  }
  return key;
}

/** Throws at `whereOf(i)` for the first record that repeats a (package, arch) with another version. */
export function requireOneVersionPerPackage(
  packages: readonly PackageRecord[],
  whereOf: (index: number) => string,
): void {
  check(packages, whereOf, plainKey);
}

/** The same rule for a set built mostly of stored packages (a delta's result): their keys are kept. */
export function requireOneVersionInSet(
  packages: readonly PackageRecord[],
  whereOf: (index: number) => string,
): void {
  check(packages, whereOf, keptKey);
}

function check(
  packages: readonly PackageRecord[],
  whereOf: (index: number) => string,
  keyOf: (p: PackageRecord) => string,
): void {
  const seen = new Map<string, { version: string; index: number }>();
  // A report names a handful of ecosystems: each is split once, not once per package.
  const ruled = new Map<string, boolean>();
  packages.forEach((p, index) => {
    let applies = ruled.get(p.ecosystem);
    if (applies === undefined) {
      applies = ONE_VERSION_PER_ARCH.has(splitEcosystem(p.ecosystem).base);
      ruled.set(p.ecosystem, applies);
    }
    if (!applies) return;
    const key = keyOf(p);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, { version: p.version, index });
      return;
    }
    if (first.version === p.version) return;
    throw new ValidationError(
      `${p.name}${p.arch ? `:${p.arch}` : ""} is listed with two versions, ${first.version} and ${p.version}; ` +
        "dpkg installs one version per package and architecture",
      {
        reason: "inventory.duplicate-package",
        where: whereOf(index),
        details: { package: p.name, arch: p.arch ?? null, first: whereOf(first.index) },
      },
    );
  });
}
