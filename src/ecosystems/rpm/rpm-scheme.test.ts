import { describe, expect, it } from "vitest";
import { parseRpmVersion, rpmScheme, rpmvercmp } from "./rpm-scheme.js";

describe("rpmvercmp: rpm's own test cases (tests/rpmvercmp.at)", () => {
  it.each([
    ["1.0", "1.0", 0],
    ["1.0", "2.0", -1],
    ["2.0.1a", "2.0.1", 1],
    ["5.5p1", "5.5p10", -1],
    ["10xyz", "10.1xyz", -1],
    ["xyz10", "xyz10.1", -1],
    ["xyz.4", "8", -1],
    ["6.0.rc1", "6.0", 1],
    ["10b2", "10a1", 1],
    ["1.0aa", "1.0a", 1],
    ["10.0001", "10.1", 0],
    ["10.0001", "10.0039", -1],
    ["4.999.9", "5.0", -1],
    ["20101121", "20101122", -1],
    ["2_0", "2.0", 0],
    ["a+", "a_", 0],
    ["+", "_", 0],
    ["1.0~rc1", "1.0", -1],
    ["1.0~rc1~git123", "1.0~rc1", -1],
    ["1.0^", "1.0", 1],
    ["1.0^git1", "1.01", -1],
    ["1.0^20160101", "1.0.1", -1],
    ["1.0~rc1^git1", "1.0~rc1", 1],
    ["1.0^git1~pre", "1.0^git1", -1],
  ] as const)("rpmvercmp(%s, %s) = %i", (a, b, expected) => {
    expect(rpmvercmp(a, b)).toBe(expected);
    expect(rpmvercmp(b, a)).toBe(-expected || 0);
  });
});

describe("rpm scheme: EVR", () => {
  it.each([
    ["1:2.0-3.el9", { epoch: "1", version: "2.0", release: "3.el9" }],
    ["2.0-3", { epoch: "0", version: "2.0", release: "3" }],
    ["2.0", { epoch: "0", version: "2.0", release: undefined }],
    ["2.0-", { epoch: "0", version: "2.0", release: "" }],
    // rpmverParse takes an epoch only from leading digits followed by ":".
    ["a:1", { epoch: "0", version: "a:1", release: undefined }],
    [":1.0", { epoch: "0", version: "1.0", release: undefined }],
  ])("parses %s", (evr, parsed) => {
    expect(parseRpmVersion(evr)).toEqual(parsed);
  });

  // rpm's Python labelCompare: epoch first; a missing release sorts before any release, even an empty one.
  it.each([
    ["1:1.0-1", "2.0-1", 1],
    ["0:1.0-1", "1.0-1", 0],
    ["1.0", "1.0-1", -1],
    ["1.0", "1.0-", -1],
    ["1.0-", "1.0-0", -1],
    ["3.10.0-229.el7", "3.10.0-229.1.2.el7", -1],
    ["2:8.2.2637-20.el9_1", "2:8.2.2637-21.el9", -1],
  ] as const)("%s vs %s → %i", (a, b, expected) => {
    expect(rpmScheme.compare(a, b)).toBe(expected);
  });

  // The last four have an empty version part, which rpm's labelCompare refuses ("invalid version").
  it.each(["", "1.0 -1", "1.0\t1", "1.0\n", ":", "1:", "-1", "1:-1.el9"])("rejects %j", (evr) => {
    expect(rpmScheme.isValid(evr)).toBe(false);
    expect(() => rpmScheme.compare(evr, "1.0")).toThrow(/^RPM version /);
  });
});
