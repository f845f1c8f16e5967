import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

/** A parsed RPM EVR. `release` is undefined when the string has no `-` (distinct from an empty release). */
export interface RpmVersion {
  epoch: string;
  version: string;
  release: string | undefined;
}

const ECOSYSTEM = "RPM";

/**
 * Splits `[epoch:]version[-release]` like rpm's rpmverParse (lib/rpmver.c): the epoch is the leading digits when a
 * `:` follows them (so "a:1" has no epoch), and the release starts after the last `-`.
 */
function splitEvr(evr: string): RpmVersion {
  let epoch = "0";
  let rest = evr;
  const digits = /^[0-9]*/.exec(evr)?.[0] ?? "";
  if (evr[digits.length] === ":") {
    epoch = digits === "" ? "0" : digits;
    rest = evr.slice(digits.length + 1);
  }
  const hyphen = rest.lastIndexOf("-");
  if (hyphen < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

/** The reason a string cannot be an EVR before it is split, or undefined. */
function textProblem(evr: string): string | undefined {
  if (evr === "") return "version is empty";
  // Whitespace and control characters separate fields in rpm's spec and header formats; they never occur in an EVR.
  if (/[\s\p{Cc}]/u.test(evr)) return "contains whitespace or a control character";
  return undefined;
}

// rpmverNew, behind rpm's labelCompare, refuses an EVR whose version part is empty (":", "1:", "-1").
const EMPTY_VERSION = "the version part (between the epoch and the release) is empty";

/** Parses an EVR as rpm does (see splitEvr). Throws ValidationError for an EVR rpm refuses to compare. */
export function parseRpmVersion(evr: string): RpmVersion {
  const reason = textProblem(evr);
  if (reason !== undefined) throw invalidVersion(ECOSYSTEM, evr, reason);
  const parsed = splitEvr(evr);
  if (parsed.version === "") throw invalidVersion(ECOSYSTEM, evr, EMPTY_VERSION);
  return parsed;
}

// rpm's risalnum/risdigit/risalpha are ASCII-only (rpmio/rpmstring.h), so other bytes act as separators.
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
const TILDE = 126;
const CARET = 94;

/**
 * rpmvercmp (rpmio/rpmvercmp.c). Written here because no maintained npm library implements it with `~` and `^`:
 * compare alternating digit/letter segments, skip other characters, `~` sorts before everything, `^` after the end.
 */
export function rpmvercmp(a: string, b: string): Ordering {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const isSep = (c: number) => !Number.isNaN(c) && !isDigit(c) && !isAlpha(c) && c !== TILDE && c !== CARET;
  while (i < a.length || j < b.length) {
    while (isSep(a.charCodeAt(i))) i++;
    while (isSep(b.charCodeAt(j))) j++;
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAlpha;
    let ei = i;
    let ej = j;
    while (ei < a.length && inSegment(a.charCodeAt(ei))) ei++;
    while (ej < b.length && inSegment(b.charCodeAt(ej))) ej++;
    // A numeric segment is newer than an alphabetic one.
    if (ej === j) return numeric ? 1 : -1;
    let segA = a.slice(i, ei);
    let segB = b.slice(j, ej);
    if (numeric) {
      segA = segA.replace(/^0+/, "");
      segB = segB.replace(/^0+/, "");
      if (segA.length !== segB.length) return segA.length > segB.length ? 1 : -1;
    }
    if (segA !== segB) return segA < segB ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/**
 * Orders two EVRs as rpm's Python labelCompare (used by rpmdev-vercmp) does: epoch, version, then release,
 * where a missing release sorts before any release (rpm's rpmverCmp would skip it, which is not a total order).
 */
export function compareRpmParsed(a: RpmVersion, b: RpmVersion): Ordering {
  const byEpoch = rpmvercmp(a.epoch, b.epoch);
  if (byEpoch !== 0) return byEpoch;
  const byVersion = rpmvercmp(a.version, b.version);
  if (byVersion !== 0) return byVersion;
  if (a.release === undefined || b.release === undefined) {
    if (a.release === b.release) return 0;
    return a.release === undefined ? -1 : 1;
  }
  return rpmvercmp(a.release, b.release);
}

export const rpmScheme: VersionScheme = {
  id: "rpm",
  isValid: (evr) => textProblem(evr) === undefined && splitEvr(evr).version !== "",
  compare: (a, b) => compareRpmParsed(parseRpmVersion(a), parseRpmVersion(b)),
};
