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
  // By name, then ecosystem and arch compared: building an (ecosystem, name, arch) string for each
  // of a report's records cost more than the check itself.
  const seen = new Map<string, Seen>();
  const ruled = new Map<string, boolean>();
  for (let index = 0; index < packages.length; index++) {
    const p = packages[index] as PackageRecord;
    if (!applies(ruled, p.ecosystem)) continue;
    const arch = p.arch ?? "";
    const head = seen.get(p.name);
    let first = head;
    while (first !== undefined && (first.ecosystem !== p.ecosystem || first.arch !== arch))
      first = first.next;
    if (first === undefined) {
      seen.set(p.name, { ecosystem: p.ecosystem, arch, version: p.version, index, next: head });
      continue;
    }
    if (first.version !== p.version) refuse(p, first, whereOf, index);
  }
}

/** The first record of one (ecosystem, name, arch), chained with the others of its name. */
interface Seen {
  ecosystem: string;
  arch: string;
  version: string;
  index: number;
  next: Seen | undefined;
}

function applies(ruled: Map<string, boolean>, ecosystem: string): boolean {
  // A report names a handful of ecosystems: each is split once, not once per package.
  let rule = ruled.get(ecosystem);
  if (rule === undefined) {
    rule = ONE_VERSION_PER_ARCH.has(splitEcosystem(ecosystem).base);
    ruled.set(ecosystem, rule);
  }
  return rule;
}

function refuse(
  p: PackageRecord,
  first: { version: string; index: number },
  whereOf: (index: number) => string,
  index: number,
): never {
  throw new ValidationError(
    `${p.name}${p.arch ? `:${p.arch}` : ""} is listed with two versions, ${first.version} and ${p.version}; ` +
      "dpkg installs one version per package and architecture",
    {
      reason: "inventory.duplicate-package",
      where: whereOf(index),
      details: { package: p.name, arch: p.arch ?? null, first: whereOf(first.index) },
    },
  );
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
  const ruled = new Map<string, boolean>();
  packages.forEach((p, index) => {
    if (!applies(ruled, p.ecosystem)) return;
    const key = keyOf(p);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, { version: p.version, index });
      return;
    }
    if (first.version !== p.version) refuse(p, first, whereOf, index);
  });
}

/** Whether a set holds the rule (a stored set whose order the process does not know yet). */
export function holdsOneVersion(packages: readonly PackageRecord[]): boolean {
  try {
    check(packages, () => "", keptKey);
    return true;
  } catch (e) {
    if (e instanceof ValidationError) return false;
    throw e;
  }
}

/**
 * The rule for records added to a set that holds it, each against the set's other version of its
 * package: what requireOneVersionInSet reports for the set with these records appended, when the
 * records themselves passed requireOneVersionPerPackage.
 */
export function requireAddedOneVersion(
  added: readonly PackageRecord[],
  otherVersion: (p: PackageRecord) => string | undefined,
  where: string,
): void {
  const ruled = new Map<string, boolean>();
  for (const p of added) {
    if (!applies(ruled, p.ecosystem)) continue;
    const other = otherVersion(p);
    if (other !== undefined) refuse(p, { version: other, index: 0 }, () => where, 0);
  }
}
