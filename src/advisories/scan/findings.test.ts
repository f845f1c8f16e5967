import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { parseOsvRecord } from "../osv/schema.js";
import { compareFindings, countByClass, type Finding, failsAt, scanPackages } from "./findings.js";

// Vectors and their CVSS 3.1 base scores (FIRST's calculator): 9.8, 7.5, 5.3.
const CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
const MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N";

function advisory(id: string, name: string, fixed: string, vector?: string) {
  return parseOsvRecord(
    {
      id,
      modified: "2024-01-01T00:00:00Z",
      aliases: [`CVE-${id.slice(5)}`],
      ...(vector === undefined ? {} : { severity: [{ type: "CVSS_V3", score: vector }] }),
      affected: [
        {
          package: { ecosystem: "npm", name },
          ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed }] }],
        },
      ],
    },
    { file: id },
  );
}

const INDEX = AdvisoryIndex.fromRecords([
  advisory("GHSA-2024-0001", "alpha", "2.0.0", MEDIUM),
  advisory("GHSA-2024-0002", "beta", "2.0.0", CRITICAL),
  advisory("GHSA-2024-0003", "gamma", "2.0.0", HIGH),
  advisory("GHSA-2024-0004", "delta", "2.0.0"),
]);
const PACKAGES = ["alpha", "beta", "gamma", "delta", "epsilon"].map((name) => ({
  ecosystem: "npm",
  name,
  version: "1.0.0",
}));

describe("scanPackages", () => {
  it("classifies by score with the default policy and sorts by class, then severity", () => {
    const result = scanPackages(PACKAGES, INDEX, { policy: DEFAULT_POLICY });
    expect(result.findings.map((f) => [f.package.name, f.vulnId, f.severity, f.class])).toEqual([
      ["beta", "CVE-2024-0002", 9.8, "emergency"],
      ["gamma", "CVE-2024-0003", 7.5, "high"],
      ["alpha", "CVE-2024-0001", 5.3, "routine"],
      ["delta", "CVE-2024-0004", null, "routine"],
    ]);
    expect(result.packages).toBe(5);
    expect(result.vulnerablePackages).toBe(4);
    expect(result.stats.evaluated).toBe(4);
  });

  it("makes a known-exploited CVE an emergency whatever its score", () => {
    const result = scanPackages(PACKAGES, INDEX, {
      policy: DEFAULT_POLICY,
      knownExploited: new Set(["CVE-2024-0004"]),
    });
    const delta = result.findings.find((f) => f.package.name === "delta");
    expect(delta).toMatchObject({ class: "emergency", knownExploited: true });
    expect(result.findings.map((f) => f.package.name)).toEqual(["beta", "delta", "gamma", "alpha"]);
  });

  it("reports progress once per package", () => {
    const seen: number[] = [];
    scanPackages(PACKAGES, INDEX, { policy: DEFAULT_POLICY, onProgress: (n) => seen.push(n) });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("fail-on thresholds", () => {
  const findings = scanPackages(PACKAGES.slice(2), INDEX, { policy: DEFAULT_POLICY }).findings;

  it.each<[string, boolean]>([
    ["emergency", false],
    ["high", true],
    ["routine", true],
  ])("--fail-on %s → %s for high and routine findings", (threshold, fails) => {
    expect(failsAt(findings, threshold as Finding["class"])).toBe(fails);
  });

  it("counts every class", () => {
    expect(countByClass(findings)).toEqual({ emergency: 0, high: 1, routine: 1 });
    expect(countByClass([])).toEqual({ emergency: 0, high: 0, routine: 0 });
  });

  it("orders ties by package name and version", () => {
    const [a, b] = findings;
    if (a === undefined || b === undefined) throw new Error("expected two findings");
    const same = { ...a, package: { ...a.package, name: "zz" } };
    expect(compareFindings(a, same)).toBeLessThan(0);
    expect(compareFindings(a, b)).toBeLessThan(0);
  });
});
