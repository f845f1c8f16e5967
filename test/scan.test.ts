// The offline scan as a user runs it: the built CLI (`npm run build` first) on real inventories.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "data");
// Relative to the working directory, as a user types it (and as SARIF should echo it back).
const DPKG = relative(process.cwd(), join(FIXTURES, "dpkg", "debian12-bookworm-node-image.status"));
const JUICE_SHOP = relative(
  process.cwd(),
  join(FIXTURES, "sbom", "cyclonedx", "juice-shop-14.1.1.npm.cdx-1.4.json"),
);
const GHSA = join(FIXTURES, "osv", "ghsa-sample-trimmed.jsonl");

interface JsonFinding {
  package: { ecosystem: string; name: string; version: string };
  vulnerabilities: string[];
  fixed: string | null;
  severity: number | null;
  class: "emergency" | "high" | "routine";
}

interface JsonReport {
  findings: JsonFinding[];
  summary: {
    packages: number;
    findings: number;
    byClass: Record<string, number>;
    knownExploited: number;
    advisories: { records: number; malformed: number };
  };
}

// Made-up advisories (CVE-2099-…) keyed by Debian source package, against what the status file has:
// openssl 3.0.19-1~deb12u2, glibc 2.36-9+deb12u14, bash source 5.2.15-2, zlib 1:1.2.13.dfsg-1,
// curl 7.88.1-10+deb12u14.
const ecosystemRange = (fixed: string) => [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed }] }];
const DEBIAN_RECORDS = [
  {
    id: "DSA-9001-1",
    aliases: ["CVE-2099-0001"],
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
    affected: [
      { package: { ecosystem: "Debian:12", name: "openssl" }, ranges: ecosystemRange("3.0.99-1~deb12u1") },
    ],
  },
  {
    id: "DSA-9002-1",
    aliases: ["CVE-2099-0002"],
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" }],
    affected: [
      { package: { ecosystem: "Debian:12", name: "glibc" }, ranges: ecosystemRange("2.36-9+deb12u99") },
      { package: { ecosystem: "Debian:11", name: "glibc" }, ranges: ecosystemRange("2.31-13+deb11u99") },
    ],
  },
  {
    // Debian 11 only: never a Debian 12 finding.
    id: "DSA-9005-1",
    aliases: ["CVE-2099-0005"],
    affected: [
      { package: { ecosystem: "Debian:11", name: "glibc" }, ranges: ecosystemRange("2.31-13+deb11u99") },
    ],
  },
  {
    // Fixed below the installed version.
    id: "DSA-9006-1",
    aliases: ["CVE-2099-0006"],
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
    affected: [
      { package: { ecosystem: "Debian:12", name: "zlib" }, ranges: ecosystemRange("1:1.2.13.dfsg-0") },
    ],
  },
  {
    // No release, no score: routine, unless KEV lists it.
    id: "DSA-9003-1",
    aliases: ["CVE-2099-0003"],
    affected: [{ package: { ecosystem: "Debian", name: "bash" }, ranges: ecosystemRange("5.2.15-3") }],
  },
  {
    id: "DSA-9004-1",
    aliases: ["CVE-2099-0004"],
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N" }],
    affected: [
      { package: { ecosystem: "Debian:12", name: "curl" }, ranges: ecosystemRange("7.88.1-10+deb12u15") },
    ],
  },
  {
    // The tracker's record of the same CVE: merged with DSA-9004-1; its later fix is the one that fixes both.
    id: "DEBIAN-CVE-2099-0004",
    aliases: ["CVE-2099-0004"],
    affected: [
      { package: { ecosystem: "Debian:12", name: "curl" }, ranges: ecosystemRange("7.88.1-10+deb12u16") },
    ],
  },
].map((r) => ({ schema_version: "1.6.0", modified: "2099-01-01T00:00:00Z", ...r }));

const KEV = {
  title: "test catalog",
  catalogVersion: "2099.01.01",
  dateReleased: "2099-01-01T00:00:00.000Z",
  count: 1,
  vulnerabilities: [
    {
      cveID: "CVE-2099-0003",
      vendorProject: "GNU",
      product: "bash",
      vulnerabilityName: "test entry",
      dateAdded: "2099-01-01",
      shortDescription: "test entry",
      requiredAction: "patch",
      dueDate: "2099-01-22",
    },
  ],
};

describe("autopatch scan", () => {
  let dir: string;
  let osvDir: string;
  let bashOnly: string;
  let kev: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-scan-"));
    osvDir = join(dir, "osv");
    mkdirSync(osvDir);
    writeFileSync(
      join(osvDir, "debian.jsonl"),
      `${DEBIAN_RECORDS.map((r) => JSON.stringify(r)).join("\n")}\n`,
    );
    // A malformed record: reported on stderr, the scan goes on.
    writeFileSync(join(osvDir, "broken.json"), JSON.stringify({ id: "DSA-0000-1", modified: "yesterday" }));
    bashOnly = join(dir, "bash-only.json");
    writeFileSync(bashOnly, JSON.stringify(DEBIAN_RECORDS.find((r) => r.id === "DSA-9003-1")));
    kev = join(dir, "kev.json");
    writeFileSync(kev, JSON.stringify(KEV));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const dpkgScan = (...extra: string[]) =>
    runCli(["scan", "--advisories", osvDir, "--dpkg-status", DPKG, "--ecosystem", "Debian:12", ...extra]);

  it("scans a real Debian 12 status file through source packages, as JSON", async () => {
    const result = await dpkgScan("--format", "json");
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(Object.keys(report)).toEqual(["findings", "summary"]);
    for (const f of report.findings) {
      expect(Object.keys(f)).toEqual(["package", "vulnerabilities", "fixed", "severity", "class"]);
      expect(Object.keys(f.package)).toEqual(["ecosystem", "name", "version"]);
    }
    const find = (name: string) => report.findings.filter((f) => f.package.name === name);
    expect(find("libssl3")).toEqual([
      {
        package: { ecosystem: "Debian:12", name: "libssl3", version: "3.0.19-1~deb12u2" },
        vulnerabilities: ["CVE-2099-0001", "DSA-9001-1"],
        fixed: "3.0.99-1~deb12u1",
        severity: 9.8,
        class: "emergency",
      },
    ]);
    expect(find("libc6")).toEqual([
      {
        package: { ecosystem: "Debian:12", name: "libc6", version: "2.36-9+deb12u14" },
        vulnerabilities: ["CVE-2099-0002", "DSA-9002-1"],
        fixed: "2.36-9+deb12u99",
        severity: 7.5,
        class: "high",
      },
    ]);
    // The binNMU binary 5.2.15-2+b8 is matched by its source version 5.2.15-2.
    expect(find("bash")).toEqual([
      {
        package: { ecosystem: "Debian:12", name: "bash", version: "5.2.15-2+b8" },
        vulnerabilities: ["CVE-2099-0003", "DSA-9003-1"],
        fixed: "5.2.15-3",
        severity: null,
        class: "routine",
      },
    ]);
    // Two advisories of one CVE: one finding per package, fixed where both are.
    expect(find("libcurl4")).toEqual([
      {
        package: { ecosystem: "Debian:12", name: "libcurl4", version: "7.88.1-10+deb12u14" },
        vulnerabilities: ["CVE-2099-0004", "DEBIAN-CVE-2099-0004", "DSA-9004-1"],
        fixed: "7.88.1-10+deb12u16",
        severity: 5.3,
        class: "routine",
      },
    ]);
    expect(find("zlib1g")).toEqual([]);
    expect(report.findings.some((f) => f.vulnerabilities.includes("CVE-2099-0005"))).toBe(false);
    const byVuln = (id: string) => report.findings.filter((f) => f.vulnerabilities.includes(id)).length;
    expect(byVuln("CVE-2099-0001")).toBe(3); // openssl, libssl3 and libssl-dev
    expect(byVuln("CVE-2099-0004")).toBe(4); // curl, libcurl4, libcurl3-gnutls and libcurl3-nss
    expect(byVuln("CVE-2099-0002")).toBe(8); // the eight glibc binaries
    expect(report.findings.map((f) => f.class)).toEqual(
      [...report.findings.map((f) => f.class)].sort(
        (a, b) => ["emergency", "high", "routine"].indexOf(a) - ["emergency", "high", "routine"].indexOf(b),
      ),
    );
    expect(report.summary).toMatchObject({
      packages: 719,
      findings: 16,
      byClass: { emergency: 3, high: 8, routine: 5 },
      advisories: { records: DEBIAN_RECORDS.length, malformed: 1 },
    });
    expect(result.stderr).toMatch(/malformed advisory skipped: .*broken\.json#\/modified: /);
  });

  it("marks known-exploited CVEs as emergencies with --kev", async () => {
    const result = await dpkgScan("--format", "json", "--kev", kev);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.findings.find((f) => f.package.name === "bash")?.class).toBe("emergency");
    // Now an emergency; unscored, it comes after the scored emergencies.
    expect(report.findings.map((f) => f.class).slice(0, 4)).toEqual(Array(4).fill("emergency"));
    expect(report.findings[3]?.package.name).toBe("bash");
    expect(report.summary.knownExploited).toBe(1);
  });

  it.each<[string, string, number]>([
    ["the full set", "emergency", 1],
    ["the full set", "routine", 1],
    ["bash only (routine)", "high", 0],
    ["bash only (routine)", "emergency", 0],
    ["bash only (routine)", "routine", 1],
  ])("exits by --fail-on: %s with --fail-on %s exits %i", async (set, failOn, code) => {
    const advisories = set === "the full set" ? osvDir : bashOnly;
    const result = await runCli([
      "scan",
      "--advisories",
      advisories,
      "--dpkg-status",
      DPKG,
      "--ecosystem",
      "Debian:12",
      "--format",
      "json",
      "--fail-on",
      failOn,
    ]);
    expect(result.code, result.stderr).toBe(code);
    expect(JSON.parse(result.stdout)).toHaveProperty("findings");
  });

  it("prints a table sorted by class then severity for people", async () => {
    const result = await dpkgScan();
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[1]).toMatch(/PACKAGE\s+│ VERSION\s+│ VULNERABILITY\s+│ FIXED\s+│ SEVERITY\s+│ CLASS/);
    const classes = lines.flatMap((l) => /│ (emergency|high|routine)\s+│$/.exec(l)?.[1] ?? []);
    expect(classes).toEqual([
      ...Array(3).fill("emergency"),
      ...Array(8).fill("high"),
      ...Array(5).fill("routine"),
    ]);
    // Within a class, the higher score first and unscored rows last.
    const routine = lines.filter((l) => /│ routine\s+│$/.test(l));
    expect(routine.slice(0, 4).every((l) => l.includes("CVE-2099-0004"))).toBe(true);
    expect(routine[4]).toMatch(/^│ bash .* CVE-2099-0003 /);
    expect(lines.find((l) => l.includes("libcurl4"))).toMatch(
      /CVE-2099-0004 .* 7\.88\.1-10\+deb12u16 .* 5\.3 /,
    );
    expect(result.stdout).toMatch(/16 findings \(3 emergency, 8 high, 5 routine\) in 16 of 719 packages/);
  });

  it("without a release, matches only advisories without one, and says so", async () => {
    const result = await runCli(["scan", "--advisories", osvDir, "--dpkg-status", DPKG, "--format", "json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.findings.map((f) => [f.package.ecosystem, f.package.name])).toEqual([["Debian", "bash"]]);
    expect(result.stderr).toMatch(/warning: the dpkg packages name no release/);
  });

  it("scans a CycloneDX SBOM as JSON and as SARIF 2.1.0 with the same findings", async () => {
    const json = await runCli(["scan", "--advisories", GHSA, "--sbom", JUICE_SHOP, "--format", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as JsonReport;
    expect(report.summary).toMatchObject({
      packages: 978,
      findings: 12,
      byClass: { emergency: 2, high: 5, routine: 5 },
    });
    expect(report.findings[0]).toEqual({
      package: { ecosystem: "npm", name: "minimist", version: "0.2.3" },
      vulnerabilities: ["CVE-2021-44906", "GHSA-xvch-5gv4-984h"],
      fixed: "0.2.4",
      severity: 9.8,
      class: "emergency",
    });
    expect(report.findings.find((f) => f.package.name === "ip")).toMatchObject({
      fixed: null,
      class: "routine",
    });

    const out = join(dir, "scan.sarif");
    const sarif = await runCli([
      "scan",
      "--advisories",
      GHSA,
      "--sbom",
      JUICE_SHOP,
      "--format",
      "sarif",
      "--output",
      out,
      "--fail-on",
      "emergency",
    ]);
    expect(sarif.code).toBe(1);
    expect(sarif.stdout).toBe("");
    const log = JSON.parse(readFileSync(out, "utf8"));
    expect(log.version).toBe("2.1.0");
    expect(log.$schema).toMatch(/sarif-schema-2\.1\.0\.json$/);
    expect(log.runs).toHaveLength(1);
    const run = log.runs[0];
    expect(run.tool.driver.name).toBe("autopatch");
    const rules = run.tool.driver.rules as Array<{ id: string; properties: Record<string, unknown> }>;
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    expect(rules.map((r) => r.id).sort()).toEqual(
      [
        ...new Set(report.findings.map((f) => f.vulnerabilities.find((id) => id.startsWith("CVE-")) ?? "")),
      ].sort(),
    );
    expect(rules.find((r) => r.id === "CVE-2021-44906")?.properties["security-severity"]).toBe("9.8");
    const results = run.results as Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
    }>;
    expect(results).toHaveLength(report.findings.length);
    results.forEach((r, i) => {
      expect(rules[r.ruleIndex]?.id).toBe(r.ruleId);
      expect(r.level).toBe(report.findings[i]?.class === "routine" ? "warning" : "error");
      expect(r.locations[0]?.physicalLocation.artifactLocation.uri).toBe(JUICE_SHOP.split("\\").join("/"));
    });
    expect(run.artifacts).toEqual([{ location: { uri: JUICE_SHOP.split("\\").join("/") } }]);
  });

  it("gives SARIF artifact paths relative to --base, and refuses a --base that is no directory", async () => {
    const base = join(FIXTURES, "..");
    const sarif = await runCli([
      "scan",
      "--advisories",
      GHSA,
      "--sbom",
      JUICE_SHOP,
      "--format",
      "sarif",
      "--base",
      base,
    ]);
    expect(sarif.code, sarif.stderr).toBe(0);
    const run = JSON.parse(sarif.stdout).runs[0];
    const uri = relative(base, JUICE_SHOP).split("\\").join("/");
    expect(uri.startsWith("data/")).toBe(true);
    expect(run.artifacts).toEqual([{ location: { uri, uriBaseId: "SRCROOT" } }]);
    expect(run.originalUriBaseIds.SRCROOT.uri).toMatch(/^file:\/\/.*\/test\/fixtures\/$/);
    const bad = await runCli([
      "scan",
      "--advisories",
      GHSA,
      "--sbom",
      JUICE_SHOP,
      "--format",
      "sarif",
      "--base",
      join(dir, "none"),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--base");
  });

  it("rejects a malformed SBOM with exit 2 and a JSON pointer, before reading advisories", async () => {
    const bad = join(dir, "bad.cdx.json");
    writeFileSync(
      bad,
      JSON.stringify({
        bomFormat: "CycloneDX",
        specVersion: "1.4",
        components: [
          { type: "library", name: "a", version: "1.0.0", purl: "pkg:npm/a@1.0.0" },
          { type: "library", name: 7 },
        ],
      }),
    );
    const text = await runCli(["scan", "--advisories", join(dir, "missing"), "--sbom", bad]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(`${bad}#/components/1/name`);
    expect(text.stdout).toBe("");
    const json = await runCli(["scan", "--advisories", GHSA, "--sbom", bad, "--format", "json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr).error).toMatchObject({
      code: "validation",
      where: `${bad}#/components/1/name`,
    });
  });

  it.each<[string, string[], string]>([
    ["an unknown format", ["--advisories", GHSA, "--sbom", JUICE_SHOP, "--format", "xml"], "--format"],
    ["an unknown class", ["--advisories", GHSA, "--sbom", JUICE_SHOP, "--fail-on", "critical"], "--fail-on"],
    ["no inventory", ["--advisories", GHSA], "--dpkg-status"],
    ["two inventories", ["--advisories", GHSA, "--sbom", JUICE_SHOP, "--dpkg-status", DPKG], "--sbom"],
    ["no advisories", ["--sbom", JUICE_SHOP], "--advisories"],
    ["a missing advisory path", ["--advisories", "no/such/osv", "--sbom", JUICE_SHOP], "no/such/osv"],
    [
      "a non-dpkg ecosystem",
      ["--advisories", GHSA, "--dpkg-status", DPKG, "--ecosystem", "npm"],
      "--ecosystem",
    ],
    ["a dpkg file as SBOM", ["--advisories", GHSA, "--sbom", DPKG], DPKG],
  ])("exits 2 for %s, saying where", async (_, args, where) => {
    const result = await runCli(["scan", ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: ${where}: `);
  });
});
