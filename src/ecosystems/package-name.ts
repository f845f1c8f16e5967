/**
 * Package name rules per ecosystem: a change names a package that the rollout engine hands to the
 * package manager, so a name must be one the ecosystem itself accepts (and thereby free of NUL,
 * whitespace, commas and shell syntax). Rules are per OSV ecosystem base, from each ecosystem's spec.
 */
import { canonicalEcosystem } from "./registry.js";

interface NameRule {
  pattern: RegExp;
  /** The rule in words, for the error message. */
  says: string;
}

const DEB: NameRule = {
  // Debian Policy §5.6.1: at least two of [a-z0-9+.-], starting alphanumeric.
  pattern: /^[a-z0-9][a-z0-9+.-]+$/,
  says: "two or more of a-z 0-9 + . - starting with a letter or digit (Debian Policy 5.6.1)",
};
const RPM: NameRule = {
  // Fedora/RPM naming guidelines: letters, digits and - . _ + ; not starting with - or .
  pattern: /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/,
  says: "letters, digits and - . _ + not starting with - or .",
};
const RULES: ReadonlyMap<string, NameRule> = new Map([
  ["Debian", DEB],
  ["Ubuntu", DEB],
  ["Red Hat", RPM],
  ["AlmaLinux", RPM],
  ["Rocky Linux", RPM],
  ["SUSE", RPM],
  ["openSUSE", RPM],
  [
    "npm",
    {
      // validate-npm-package-name: URL-safe, at most 214, an optional @scope/, no leading . or _.
      pattern: /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/,
      says: "an npm name (optionally @scope/name) of a-z 0-9 - . _ ~, not starting with . or _",
    },
  ],
  [
    "crates.io",
    {
      // Cargo: ASCII alphanumerics, - and _, starting with a letter, at most 64.
      pattern: /^[A-Za-z][A-Za-z0-9_-]{0,63}$/,
      says: "at most 64 of A-Z a-z 0-9 - _ starting with a letter",
    },
  ],
  [
    "PyPI",
    {
      // PEP 508 names: ASCII letters and digits, with - _ . inside.
      pattern: /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/,
      says: "letters and digits with - _ . inside (PEP 508)",
    },
  ],
  [
    "Maven",
    {
      pattern: /^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/,
      says: "groupId:artifactId, each of A-Z a-z 0-9 _ . -",
    },
  ],
  [
    "Go",
    {
      // A module or package path: slash-separated elements of A-Z a-z 0-9 - . _ ~, none empty or
      // starting with a dot, the first not starting with a dash.
      pattern: /^(?!-)[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$/,
      says: "a Go module path: elements of A-Z a-z 0-9 - . _ ~ separated by /",
    },
  ],
]);

/** Longest name any ecosystem here accepts (npm's limit is the lowest: 214). */
const MAX_NAME = 253;

/**
 * Why `name` is not a package name of `ecosystem`, or null when it is one. The ecosystem may carry a
 * release ("Debian:12"); an ecosystem without a rule throws AppError("unsupported").
 */
export function packageNameProblem(ecosystem: string, name: string): string | null {
  const base = canonicalEcosystem(ecosystem);
  const rule = RULES.get(base);
  if (rule === undefined) return null;
  if (name.length > (base === "npm" ? 214 : MAX_NAME)) return `a ${base} package name is too long`;
  return rule.pattern.test(name) ? null : `not a ${base} package name: ${rule.says}`;
}
