import { invalidVersion } from "../invalid-version.js";
import type { Ordering, VersionScheme } from "../scheme.js";

/**
 * Maven's ComparableVersion (maven-artifact, org.apache.maven.artifact.versioning). Written here because no
 * maintained npm library reproduces it: items are numbers, qualifiers or nested lists (a new list starts at `-`
 * and at each digit/letter transition), trailing "null" items (0, "", ga/final/release, empty lists) are trimmed.
 */
export type MavenItem =
  | { kind: "int"; digits: string }
  | { kind: "string"; value: string }
  | { kind: "list"; items: MavenItem[] };

const ECOSYSTEM = "Maven";
const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_QUALIFIERS = new Set(["ga", "final", "release"]);
const RELEASE_INDEX = String(QUALIFIERS.indexOf(""));
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
  if (RELEASE_QUALIFIERS.has(value)) return RELEASE_INDEX;
  const i = QUALIFIERS.indexOf(value);
  return i === -1 ? `${QUALIFIERS.length}-${value}` : String(i);
}

function stringItem(value: string, followedByDigit: boolean): MavenItem {
  let v = value;
  // a1, b1, m1 are shorthand for alpha-1, beta-1, milestone-1.
  if (followedByDigit && v.length === 1)
    v = v === "a" ? "alpha" : v === "b" ? "beta" : v === "m" ? "milestone" : v;
  if (v === "cr") v = "rc";
  return { kind: "string", value: v };
}

function numberItem(digits: string): MavenItem {
  return { kind: "int", digits: digits.replace(/^0+/, "") };
}

function parseItem(isDigit: boolean, text: string): MavenItem {
  return isDigit ? numberItem(text) : stringItem(text, false);
}

function isNull(item: MavenItem): boolean {
  if (item.kind === "int") return item.digits === "";
  if (item.kind === "string") return comparableQualifier(item.value) === RELEASE_INDEX;
  return item.items.length === 0;
}

function normalize(list: MavenItem[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as MavenItem;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== "list") break;
  }
}

function isAsciiDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

/** Tokenises a version into ComparableVersion's item tree. Throws ValidationError for a banned version. */
export function parseMavenVersion(version: string): MavenItem[] {
  const reason = problem(version);
  if (reason !== undefined) throw invalidVersion(ECOSYSTEM, version, reason);
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
    const c = text.charAt(i);
    if (c === "." || c === "-") {
      list.push(i === start ? numberItem("") : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === "-") open();
    } else if (isAsciiDigit(c)) {
      if (!isDigit && i > start) {
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
  if (text.length > start) list.push(parseItem(isDigit, text.slice(start)));
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
      if (item.digits.length !== other.digits.length) return sign(item.digits.length - other.digits.length);
      return compareStrings(item.digits, other.digits);
    case "string":
      if (other === undefined) return compareStrings(comparableQualifier(item.value), RELEASE_INDEX);
      if (other.kind !== "string") return -1;
      return compareStrings(comparableQualifier(item.value), comparableQualifier(other.value));
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
