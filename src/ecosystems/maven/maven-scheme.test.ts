import { describe, expect, it } from "vitest";
import { mavenScheme } from "./maven-scheme.js";

/**
 * Each list is in ascending order (maven-artifact ComparableVersionTest: VERSIONS_QUALIFIER, VERSIONS_NUMBER), as
 * maven-artifact 3.8.7 orders them: since MNG-7644 a qualifier after "." sorts like one after "-", so 2.0.a moved
 * below 2-1 and 2.0.0.a (equal to 2.0.a) left the list.
 */
const ORDERED: Record<string, string[]> = {
  qualifiers: [
    "1-alpha2snapshot",
    "1-alpha2",
    "1-alpha-123",
    "1-beta-2",
    "1-beta123",
    "1-m2",
    "1-m11",
    "1-rc",
    "1-cr2",
    "1-rc123",
    "1-SNAPSHOT",
    "1",
    "1-sp",
    "1-sp2",
    "1-sp123",
    "1-abc",
    "1-def",
    "1-pom-1",
    "1-1-snapshot",
    "1-1",
    "1-2",
    "1-123",
  ],
  numbers: [
    "2.0",
    "2.0.a",
    "2-1",
    "2.0.2",
    "2.0.123",
    "2.1.0",
    "2.1-a",
    "2.1b",
    "2.1-c",
    "2.1-1",
    "2.1.0.1",
    "2.2",
    "2.123",
    "11.a2",
    "11.a11",
    "11.b2",
    "11.b11",
    "11.m2",
    "11.m11",
    "11",
    "11.a",
    "11b",
    "11c",
    "11m",
  ],
};

describe.each(Object.entries(ORDERED))("maven ComparableVersionTest order: %s", (_name, list) => {
  const pairs = list.flatMap((a, i) => list.slice(i + 1).map((b) => [a, b] as const));
  it.each(pairs)("%s < %s", (a, b) => {
    expect(mavenScheme.compare(a, b)).toBe(-1);
    expect(mavenScheme.compare(b, a)).toBe(1);
  });
});

describe("maven scheme", () => {
  // ComparableVersionTest testVersionsEqual and the MNG-5568 / MNG-6572 regression cases.
  it.each([
    ["1", "1.0.0"],
    ["1-0", "1"],
    ["1ga", "1"],
    ["1final", "1"],
    ["1release", "1"],
    ["1cr", "1rc"],
    ["1a1", "1-alpha-1"],
    ["1m3", "1MILESTONE3"],
    ["1-1.foo-bar-1-baz-0.1", "1-1.foo-bar1baz-.1"],
    // MNG-7644: a qualifier after "." is the same as after "-".
    ["1.0.RC1", "1.0-RC1"],
    ["1.0.x", "1-x"],
    ["1.0.0.x", "1.0.x"],
    ["2.0.a", "2.0.0.a"],
    ["2.0.0.Final", "2.0.0"],
    // Java's Character.isDigit and Integer.parseInt read any Unicode decimal digit.
    ["1.\u0661", "1.1"],
    ["1.\u0660\u0661.x", "1.1.x"],
    ["1.\uff12", "1.2"],
  ])("%s = %s", (a, b) => {
    expect(mavenScheme.compare(a, b)).toBe(0);
  });

  it.each([
    ["6.1.0rc3", "6.1.0"],
    ["6.1.0", "6.1H.5-beta"],
    ["20190126.230843", "1234567890.12345"],
    ["1234567890.12345", "123456789012345.1H.5-beta"],
    ["123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta"],
    ["1.0.RC1", "1.0"],
    ["1.0.0.X1", "1.0.0-X2"],
    ["1.5.9-RC0", "1.5.9.RC1"],
    ["1-ga-1", "1-1"],
    // A string of only zeros keeps its length in Java, so ten of them make a long, which sorts above the int 0.
    ["1.0.0.1", "1.0.0000000000.1"],
    ["1.0000000000.1", "1.00000000000000000000.1"],
    ["1.0.1", "1.\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660.1"],
    ["1.999999999", "1.1000000000"],
    ["1.999999999999999999", "1.1000000000000000000"],
  ])("%s < %s", (a, b) => {
    expect(mavenScheme.compare(a, b)).toBe(-1);
  });

  it.each([
    ["", "version is empty"],
    ["1.0 beta", "whitespace"],
    ["1.0/2", 'contains "/"'],
    ["1.0:2", 'contains ":"'],
  ])("rejects %j", (version, reason) => {
    expect(mavenScheme.isValid(version)).toBe(false);
    expect(() => mavenScheme.compare(version, "1.0")).toThrow(reason);
  });
});
