import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

/**
 * Maven's ComparableVersion (maven-artifact 3.8.7, org.apache.maven.artifact.versioning, as Debian ships it),
 * checked against the real class by test/maven-ordering.test.ts. Written here because no maintained npm library
 * reproduces it: items are numbers, qualifiers or nested lists; a new list starts at `-`, at each digit/letter
 * transition, and before a qualifier that follows `.` (so `1.0.RC1` = `1.0-RC1`); trailing "null" items (0, "",
 * ga/final/release, empty lists) are trimmed.
 */
export type MavenItem =
  /**
   * `width` is the Java class the digits land in (0 int, 1 long, 2 BigInteger), chosen by the length of the
   * segment without its leading ASCII zeros; a wider class always sorts higher. `digits` is the value in ASCII
   * without leading zeros ("" for zero).
   */
  | { kind: "int"; width: 0 | 1 | 2; digits: string }
  /** `key` is ComparableVersion's comparableQualifier: the known qualifiers' rank, or "7-" + the qualifier. */
  | { kind: "string"; value: string; key: string }
  | { kind: "list"; items: MavenItem[] };

const ECOSYSTEM = "Maven";
const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const ALIASES: Readonly<Record<string, string>> = { ga: "", final: "", release: "", cr: "rc" };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(""));
const ZERO: MavenItem = { kind: "int", width: 0, digits: "" };
// Maven's model validator (DefaultModelValidator) bans these characters in a version.
const BANNED = /[\\/:"<>|?*]/;

function problem(version: string): string | undefined {
  if (version.trim() === "") return "version is empty";
  if (/[\s\p{Cc}]/u.test(version)) return "contains whitespace or a control character";
  const banned = BANNED.exec(version)?.[0];
  if (banned !== undefined) return `contains "${banned}", which Maven does not allow in a version`;
  return undefined;
}

function comparableQualifier(value: string): string {
  const i = QUALIFIERS.indexOf(value);
  return i === -1 ? `${QUALIFIERS.length}-${value}` : String(i);
}

function stringItem(text: string, followedByDigit: boolean): MavenItem {
  let v = text;
  // a1, b1, m1 are shorthand for alpha-1, beta-1, milestone-1.
  if (followedByDigit && v.length === 1)
    v = v === "a" ? "alpha" : v === "b" ? "beta" : v === "m" ? "milestone" : v;
  v = ALIASES[v] ?? v;
  return { kind: "string", value: v, key: comparableQualifier(v) };
}

const UNICODE_DIGIT = /^\p{Nd}$/u;

/** Java's Character.isDigit on one UTF-16 unit: any Unicode decimal digit, not only 0-9. */
function isJavaDigit(code: number): boolean {
  if (code < 0x80) return code >= 48 && code <= 57;
  return UNICODE_DIGIT.test(String.fromCharCode(code));
}

/** The value of a Unicode decimal digit: Nd digits come in runs of ten, 0 to 9, so count back to the run's start. */
function digitValue(code: number): number {
  if (code < 0x80) return code - 48;
  let start = code;
  while (isJavaDigit(start - 1)) start--;
  return (code - start) % 10;
}

function numberItem(text: string): MavenItem {
  // Java's stripLeadingZeroes removes ASCII "0" only and keeps a string of nothing but zeros whole, so
  // "0000000000" becomes a long and sorts above the int 0 even though both are null.
  let first = 0;
  while (first < text.length && text.charCodeAt(first) === 48) first++;
  const length = first === text.length ? text.length : text.length - first;
  const width = length <= 9 ? 0 : length <= 18 ? 1 : 2;
  let ascii = true;
  for (let i = first; i < text.length && ascii; i++) ascii = text.charCodeAt(i) < 0x80;
  if (ascii) return { kind: "int", width, digits: text.slice(first) };
  // Other Unicode digits, zeros among them: spell the value in ASCII without leading zeros.
  let digits = "";
  for (let i = 0; i < text.length; i++) {
    const value = digitValue(text.charCodeAt(i));
    if (digits !== "" || value !== 0) digits += String(value);
  }
  return { kind: "int", width, digits };
}

function parseItem(isDigit: boolean, text: string): MavenItem {
  return isDigit ? numberItem(text) : stringItem(text, false);
}

function isNull(item: MavenItem): boolean {
  if (item.kind === "int") return item.digits === "";
  if (item.kind === "string") return item.key === RELEASE_INDEX;
  return item.items.length === 0;
}

function normalize(list: MavenItem[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as MavenItem;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== "list") break;
  }
}

/**
 * Tokenises a version into ComparableVersion's item tree, step for step like its parseVersion. Throws
 * ValidationError for a version Maven's model validator refuses.
 */
export function parseMavenVersion(version: string): MavenItem[] {
  const reason = problem(version);
  if (reason !== undefined) throw invalidVersion(ECOSYSTEM, version, reason);
  // Locale-independent like Java's toLowerCase(Locale.ENGLISH); the one difference is where a capital sigma
  // becomes a final sigma (Java decides by BreakIterator word boundaries), which only matters inside a qualifier.
  const text = version.toLowerCase();
  const root: MavenItem[] = [];
  let list = root;
  const lists: MavenItem[][] = [root];
  const open = (): void => {
    const next: MavenItem[] = [];
    list.push({ kind: "list", items: next });
    list = next;
    lists.push(next);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46 || code === 45) {
      // "." or "-": an empty segment is the number 0; "-" also opens a sub-list.
      list.push(i === start ? ZERO : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (code === 45) open();
    } else if (isJavaDigit(code)) {
      if (!isDigit && i > start) {
        // A qualifier after "." is treated like one after "-": it gets its own sub-list.
        if (list.length > 0) open();
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        open();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, text.slice(start, i)));
        start = i;
        open();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    if (!isDigit && list.length > 0) open();
    list.push(parseItem(isDigit, text.slice(start)));
  }
  for (let k = lists.length - 1; k >= 0; k--) normalize(lists[k] as MavenItem[]);
  return root;
}

function sign(n: number): Ordering {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareStrings(a: string, b: string): Ordering {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareItem(item: MavenItem, other: MavenItem | undefined): Ordering {
  switch (item.kind) {
    case "int":
      if (other === undefined) return item.digits === "" ? 0 : 1;
      if (other.kind !== "int") return 1;
      if (item.width !== other.width) return sign(item.width - other.width);
      if (item.digits.length !== other.digits.length) return sign(item.digits.length - other.digits.length);
      return compareStrings(item.digits, other.digits);
    case "string":
      if (other === undefined) return compareStrings(item.key, RELEASE_INDEX);
      if (other.kind !== "string") return -1;
      return compareStrings(item.key, other.key);
    case "list":
      if (other === undefined) {
        for (const child of item.items) {
          const result = compareItem(child, undefined);
          if (result !== 0) return result;
        }
        return 0;
      }
      if (other.kind === "int") return -1;
      if (other.kind === "string") return 1;
      return compareLists(item.items, other.items);
  }
}

function compareLists(left: MavenItem[], right: MavenItem[]): Ordering {
  for (let k = 0; k < Math.max(left.length, right.length); k++) {
    const l = left[k];
    const r = right[k];
    const result =
      l === undefined ? (r === undefined ? 0 : sign(-compareItem(r, undefined))) : compareItem(l, r);
    if (result !== 0) return result;
  }
  return 0;
}

/** Orders two parsed Maven versions. */
export function compareMavenParsed(a: MavenItem[], b: MavenItem[]): Ordering {
  return compareLists(a, b);
}

export const mavenScheme: VersionScheme = {
  id: "maven",
  isValid: (version) => problem(version) === undefined,
  compare: (a, b) => compareMavenParsed(parseMavenVersion(a), parseMavenVersion(b)),
};
