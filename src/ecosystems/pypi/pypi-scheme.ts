import { compare as pep440Compare, valid as pep440Valid } from "@renovatebot/pep440";
import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

const ECOSYSTEM = "PyPI";

/** Python's `packaging` strips surrounding whitespace before matching the PEP 440 pattern; so do we. */
function normalise(version: string): string {
  return version.trim();
}

function isValid(version: string): boolean {
  return pep440Valid(normalise(version)) !== null;
}

function check(version: string): string {
  const text = normalise(version);
  if (text === "") throw invalidVersion(ECOSYSTEM, version, "version is empty");
  if (pep440Valid(text) === null) {
    throw invalidVersion(
      ECOSYSTEM,
      version,
      "not a PEP 440 version ([N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local])",
    );
  }
  return text;
}

/** Splits off the local label (`+...`), which PEP 440 compares segment by segment. */
function splitLocal(version: string): [string, string | undefined] {
  const plus = version.indexOf("+");
  return plus < 0 ? [version, undefined] : [version.slice(0, plus), version.slice(plus + 1)];
}

/**
 * PEP 440 local-label order as `packaging` implements it: numeric segments compare as integers and sort after
 * alphanumeric ones, which compare case-insensitively; a longer label wins when one is a prefix of the other.
 * Done here because @renovatebot/pep440 reads segments with Number(), so "1e3" or "0x1" become numbers.
 */
function compareLocal(a: string | undefined, b: string | undefined): Ordering {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    return a === undefined ? -1 : 1;
  }
  const left = a.toLowerCase().split(/[-_.]/);
  const right = b.toLowerCase().split(/[-_.]/);
  for (let k = 0; k < Math.min(left.length, right.length); k++) {
    const x = left[k] ?? "";
    const y = right[k] ?? "";
    const xNum = /^[0-9]+$/.test(x);
    const yNum = /^[0-9]+$/.test(y);
    if (xNum !== yNum) return xNum ? 1 : -1;
    if (xNum) {
      const bx = BigInt(x);
      const by = BigInt(y);
      if (bx !== by) return bx < by ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  if (left.length === right.length) return 0;
  return left.length < right.length ? -1 : 1;
}

/** Orders two valid PEP 440 versions (public part by @renovatebot/pep440, local label as above). */
export function comparePep440(a: string, b: string): Ordering {
  const [publicA, localA] = splitLocal(check(a));
  const [publicB, localB] = splitLocal(check(b));
  const byPublic = Math.sign(pep440Compare(publicA, publicB));
  if (byPublic !== 0) return byPublic < 0 ? -1 : 1;
  return compareLocal(localA, localB);
}

export const pypiScheme: VersionScheme = {
  id: "pypi",
  isValid,
  compare: comparePep440,
};
