import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

/** A parsed Debian version: `[epoch:]upstream[-revision]`. */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const ECOSYSTEM = "Debian";
// dpkg keeps the epoch in an int and rejects anything above INT_MAX (lib/dpkg/parsehelp.c).
const MAX_EPOCH = 2_147_483_647;
const UPSTREAM_CHARS = /^[A-Za-z0-9.+~:-]*$/;
const REVISION_CHARS = /^[A-Za-z0-9.+~]*$/;

/** The reason dpkg gives for rejecting `version`, or undefined when dpkg accepts it (parseversion in dpkg). */
function problem(version: string): string | DebVersion {
  const text = version.trim();
  if (text === "") return "version string is empty";
  if (/\s/.test(text)) return "version string has embedded spaces";
  let epoch = 0;
  let rest = text;
  const colon = text.indexOf(":");
  if (colon >= 0) {
    const epochText = text.slice(0, colon);
    if (epochText === "") return "epoch is empty";
    if (!/^[0-9]+$/.test(epochText)) return `epoch "${epochText}" is not a number`;
    epoch = Number(epochText);
    if (epoch > MAX_EPOCH) return `epoch "${epochText}" is too big`;
    rest = text.slice(colon + 1);
  }
  let upstream = rest;
  let revision = "";
  const hyphen = rest.lastIndexOf("-");
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === "") return "revision is empty";
  }
  if (upstream === "") return "upstream version is empty";
  if (!/^[0-9]/.test(upstream)) return "upstream version must start with a digit";
  if (!UPSTREAM_CHARS.test(upstream)) return `upstream version "${upstream}" has an invalid character`;
  if (!REVISION_CHARS.test(revision)) return `revision "${revision}" has an invalid character`;
  return { epoch, upstream, revision };
}

/** dpkg's character weight: `~` first, then end of string and digits, then letters, then other symbols. */
function order(code: number): number {
  if (code >= 48 && code <= 57) return 0;
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return code;
  if (code === 126) return -1;
  if (Number.isNaN(code)) return 0;
  return code + 256;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * dpkg's verrevcmp over one upstream or revision part. Written here because no maintained npm library
 * implements dpkg ordering; follows lib/dpkg/version.c: alternate non-digit runs (by `order`) and digit runs.
 */
export function compareDebFragment(a: string, b: string): Ordering {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a.charCodeAt(i));
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/** Orders two parsed Debian versions: epoch numerically, then upstream, then revision. */
export function compareDebParsed(a: DebVersion, b: DebVersion): Ordering {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return compareDebFragment(a.upstream, b.upstream) || compareDebFragment(a.revision, b.revision);
}

/**
 * Beyond this many remembered versions the cache starts again, so memory stays bounded on huge inputs
 * (about 60 MB at the limit). A fleet match against 100,000 advisories meets about 100,000 distinct
 * versions, so the limit is set well above that.
 */
const PARSED_LIMIT = 250_000;
const parsed = new Map<string, string | DebVersion>();

/**
 * `problem`, remembered: a match sorts and compares the same few thousand versions many times over, and
 * parsing (its regular expressions and slices) cost more than the comparison itself. Parsed versions
 * are frozen, as they are shared.
 */
function parsedOrProblem(version: string): string | DebVersion {
  let result = parsed.get(version);
  if (result === undefined) {
    result = problem(version);
    if (typeof result !== "string") Object.freeze(result);
    if (parsed.size >= PARSED_LIMIT) parsed.clear();
    parsed.set(version, result);
  }
  return result;
}

/** Parses a Debian version as dpkg does (frozen: it is shared); throws ValidationError naming the offending part. */
export function parseDebVersion(version: string): Readonly<DebVersion> {
  const result = parsedOrProblem(version);
  if (typeof result === "string") throw invalidVersion(ECOSYSTEM, version, result);
  return result;
}

export const debScheme: VersionScheme = {
  id: "deb",
  isValid: (version) => typeof parsedOrProblem(version) !== "string",
  compare: (a, b) => compareDebParsed(parseDebVersion(a), parseDebVersion(b)),
};
