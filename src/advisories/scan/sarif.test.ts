import { describe, expect, it } from "vitest";
import type { Finding } from "./findings.js";
import { artifactLocation, artifactUri, sarifLevel, toSarif } from "./sarif.js";

function finding(name: string, vulnId: string, cls: Finding["class"], severity: number | null): Finding {
  return {
    package: { ecosystem: "npm", name, version: "1.0.0" },
    vulnId,
    advisoryIds: [`GHSA-${name}`],
    vulnerabilities: [vulnId, `GHSA-${name}`].sort(),
    fixed: severity === null ? null : "1.0.1",
    severity,
    vector: null,
    knownExploited: false,
    class: cls,
  };
}

describe("toSarif", () => {
  const findings = [
    finding("a", "CVE-2024-0001", "emergency", 9.8),
    finding("b", "CVE-2024-0002", "routine", null),
    finding("c", "CVE-2024-0002", "high", 7.5),
  ];
  const log = toSarif(findings, {
    inventoryPath: "images/shop.cdx.json",
    toolName: "autopatch",
    toolVersion: "1.2.3",
  });
  const run = log.runs[0];

  it("is a SARIF 2.1.0 log with one run by the tool", () => {
    expect(log.version).toBe("2.1.0");
    expect(run?.tool.driver).toMatchObject({ name: "autopatch", version: "1.2.3" });
    expect(run?.artifacts).toEqual([{ location: { uri: "images/shop.cdx.json" } }]);
  });

  it("has one rule per vulnerability and one result per finding, linked by index", () => {
    expect(run?.tool.driver.rules.map((r) => r.id)).toEqual(["CVE-2024-0001", "CVE-2024-0002"]);
    expect(run?.results.map((r) => [r.ruleId, r.ruleIndex, r.level])).toEqual([
      ["CVE-2024-0001", 0, "error"],
      ["CVE-2024-0002", 1, "warning"],
      ["CVE-2024-0002", 1, "error"],
    ]);
    // The rule takes the most urgent level among its findings.
    expect(run?.tool.driver.rules[1]?.defaultConfiguration.level).toBe("error");
    expect(run?.tool.driver.rules[0]?.properties["security-severity"]).toBe("9.8");
    expect(run?.tool.driver.rules[1]?.properties).not.toHaveProperty("security-severity");
    expect(run?.results[1]?.message.text).toBe(
      "b 1.0.0 (npm) is affected by CVE-2024-0002 (GHSA-b); no fixed version is known yet.",
    );
  });

  it.each<[Finding["class"], string]>([
    ["emergency", "error"],
    ["high", "error"],
    ["routine", "warning"],
  ])("level of %s is %s", (cls, level) => {
    expect(sarifLevel(cls)).toBe(level);
  });
});

describe("artifactUri", () => {
  it.each<[string, string]>([
    ["bom.json", "bom.json"],
    ["images/shop one.cdx.json", "images/shop%20one.cdx.json"],
    ["/var/lib/dpkg/status", "file:///var/lib/dpkg/status"],
  ])("%s → %s", (path, uri) => {
    expect(artifactUri(path)).toBe(uri);
  });
});

describe("artifact paths relative to a base directory", () => {
  it.each<[string, string, { uri: string; uriBaseId?: string }]>([
    ["/repo/images/shop.cdx.json", "/repo", { uri: "images/shop.cdx.json", uriBaseId: "SRCROOT" }],
    ["/repo/a b/bom.json", "/repo/", { uri: "a%20b/bom.json", uriBaseId: "SRCROOT" }],
    ["/elsewhere/bom.json", "/repo", { uri: "file:///elsewhere/bom.json" }],
    ["/repo-two/bom.json", "/repo", { uri: "file:///repo-two/bom.json" }],
  ])("%s under %s", (path, base, location) => {
    expect(artifactLocation(path, base)).toEqual(location);
  });

  it("names the base in originalUriBaseIds and points every location at it", () => {
    const log = toSarif([finding("a", "CVE-2024-0001", "high", 7.5)], {
      inventoryPath: "/repo/build/bom.json",
      base: "/repo",
      toolName: "autopatch",
      toolVersion: "1",
    });
    const run = log.runs[0];
    expect(run?.originalUriBaseIds).toEqual({ SRCROOT: { uri: "file:///repo/" } });
    expect(run?.artifacts).toEqual([{ location: { uri: "build/bom.json", uriBaseId: "SRCROOT" } }]);
    expect(run?.results[0]?.locations[0]?.physicalLocation.artifactLocation).toEqual({
      uri: "build/bom.json",
      uriBaseId: "SRCROOT",
      index: 0,
    });
  });

  it("leaves originalUriBaseIds out without a base", () => {
    const log = toSarif([], { inventoryPath: "bom.json", toolName: "autopatch", toolVersion: "1" });
    expect(log.runs[0]).not.toHaveProperty("originalUriBaseIds");
  });
});
