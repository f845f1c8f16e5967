import { describe, expect, it } from "vitest";
import { goScheme, isPseudoVersion } from "./go-scheme.js";

describe("go scheme", () => {
  // Ordering facts from golang.org/x/mod/semver and the go command's "Pseudo-versions" documentation.
  it.each([
    ["v1.2.3", "1.2.3", 0],
    ["1.0.0-alpha", "1.0.0-alpha.1", -1],
    ["1.0.0-beta.11", "1.0.0-beta.2", 1],
    ["1.0.0-rc.1", "1.0.0", -1],
    ["2.0.0+incompatible", "2.0.0", 0],
    ["2.0.0+incompatible", "2.1.0", -1],
    ["0.0.0-20191109021931-daa7c04131f5", "0.1.0", -1],
    ["0.0.0-20191109021931-daa7c04131f5", "0.0.0-20200101000000-000000000000", -1],
    ["1.2.4-0.20191109021931-daa7c04131f5", "1.2.3", 1],
    ["1.2.4-0.20191109021931-daa7c04131f5", "1.2.4", -1],
    ["1.2.4-pre.0.20191109021931-daa7c04131f5", "1.2.4-pre", 1],
    ["999999999999999999999999999991.0.0", "999999999999999999999999999999.0.0", -1],
  ] as const)("%s vs %s → %i", (a, b, expected) => {
    expect(goScheme.compare(a, b)).toBe(expected);
    expect(goScheme.compare(b, a)).toBe(-expected || 0);
  });

  it.each([
    ["1.2", "not [v]MAJOR.MINOR.PATCH"],
    ["01.2.3", "not [v]MAJOR.MINOR.PATCH"],
    ["1.2.3-01", 'pre-release identifier "01" has a leading zero'],
    ["1.2.3-a..b", "has an empty identifier"],
    ["1.2.3+build", 'build metadata "+build" is not allowed'],
    ["1.0.0+incompatible", "+incompatible is not allowed on major version v1"],
  ])("rejects %s", (version, reason) => {
    expect(goScheme.isValid(version)).toBe(false);
    expect(() => goScheme.compare(version, "1.0.0")).toThrow(reason);
    expect(() => goScheme.compare(version, "1.0.0")).toThrow(/^Go version /);
  });

  it.each([
    ["v0.0.0-20191109021931-daa7c04131f5", true],
    ["1.2.4-0.20191109021931-daa7c04131f5", true],
    ["1.2.4-pre.0.20191109021931-daa7c04131f5", true],
    ["1.2.4", false],
    ["1.2.4-rc.1", false],
  ])("isPseudoVersion(%s) = %s", (version, expected) => {
    expect(isPseudoVersion(version)).toBe(expected);
  });
});
