import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { PackageRecord } from "../../domain/inventory.js";
import { schemeForEcosystem } from "../../ecosystems/registry.js";
import { isAffected, lowestFixedAbove } from "../osv/ranges.js";
import { type OsvRecord, parseOsvRecord } from "../osv/schema.js";
import { AdvisoryIndex } from "./advisory-index.js";
import { emptyMatchStats, matchPackage, type VulnerabilityMatch } from "./match.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/osv/", import.meta.url));

function jsonl(name: string): OsvRecord[] {
  return readFileSync(`${DATA}${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => parseOsvRecord(JSON.parse(l), { file: `${name}:${i + 1}` }));
}

const GHSA = jsonl("ghsa-sample-trimmed.jsonl");
const GO = jsonl("go-vulndb.jsonl");
const RUST = jsonl("rustsec-crates.jsonl");
const ALMA = jsonl("almalinux9.jsonl");
const PYSEC = jsonl("pypa-pysec.jsonl");
const USN = parseOsvRecord(JSON.parse(readFileSync(`${DATA}ubuntu-USN-2169-1.json`, "utf8")), {
  file: "ubuntu-USN-2169-1.json",
});
const INDEX = AdvisoryIndex.fromRecords([...GHSA, ...GO, ...RUST, ...ALMA, ...PYSEC, USN]);

function pkg(ecosystem: string, name: string, version: string, extra: Partial<PackageRecord> = {}) {
  return { ecosystem, name, version, ...extra };
}

function record(value: Record<string, unknown>): OsvRecord {
  return parseOsvRecord({ modified: "2024-01-01T00:00:00Z", ...value }, { file: "test" });
}

function byVuln(matches: VulnerabilityMatch[], id: string): VulnerabilityMatch | undefined {
  return matches.find((m) => m.vulnId === id || m.advisoryIds.includes(id));
}

describe("matchPackage on real advisories", () => {
  // [ecosystem, name, installed version, vulnerability (display or advisory id), fixed version]
  it.each<[string, string, string, string, string | null]>([
    ["npm", "lodash", "4.17.20", "CVE-2021-23337", "4.17.21"],
    ["npm", "lodash-es", "4.17.15", "CVE-2021-23337", "4.17.21"],
    ["npm", "ip", "1.1.8", "CVE-2023-42282", null], // last_affected: no fix published
    ["npm", "qs", "6.5.2", "CVE-2022-24999", "6.5.3"],
    ["npm", "qs", "6.10.1", "CVE-2022-24999", "6.10.3"],
    ["npm", "express", "5.0.0-beta.1", "CVE-2024-29041", "5.0.0-beta.3"],
    ["npm", "express", "4.18.2", "CVE-2024-29041", "4.19.2"],
    ["npm", "ua-parser-js", "0.7.29", "GHSA-pjwm-rvh2-c87w", "0.7.30"], // no CVE: the GHSA id shows
    ["npm", "vm2", "3.9.11", "CVE-2023-37466", null],
    ["npm", "ws", "7.4.6", "CVE-2024-37890", "7.5.10"],
    ["Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", "CVE-2021-44228", "2.15.0"],
    ["Maven", "org.apache.logging.log4j:log4j-core", "2.12.1", "CVE-2021-44228", "2.12.2"],
    ["Maven", "org.apache.logging.log4j:log4j-core", "2.0-beta9", "CVE-2021-44228", "2.3.1"],
    ["Maven", "org.springframework:spring-beans", "5.3.17", "CVE-2022-22965", "5.3.18"],
    ["Maven", "org.springframework:spring-beans", "5.2.19.RELEASE", "CVE-2022-22965", "5.2.20.RELEASE"],
    ["PyPI", "requests", "2.30.0", "CVE-2023-32681", "2.31.0"],
    ["PyPI", "Requests", "2.30.0", "CVE-2023-32681", "2.31.0"], // PEP 503 names
    ["Go", "golang.org/x/net", "0.16.0", "CVE-2023-39325", "0.17.0"],
    ["Go", "stdlib", "1.21.2", "CVE-2023-39325", "1.21.3"],
    ["Go", "stdlib", "1.20.9", "CVE-2023-39325", "1.20.10"],
    ["crates.io", "smallvec", "0.6.9", "CVE-2019-15551", "0.6.10"],
    ["crates.io", "smallvec", "1.5.0", "CVE-2021-25900", "1.6.1"],
    ["crates.io", "hyper", "0.13.9", "CVE-2021-21299", "0.13.10"],
    ["AlmaLinux:9", "openssl", "1:3.0.7-27.el9", "ALSA-2024:6783", "1:3.0.7-28.el9_4"],
    ["AlmaLinux:9", "java-1.8.0-openjdk", "1:1.8.0.392.b08-3.el9", "ALSA-2024:0265", "1:1.8.0.402.b06-2.el9"],
    ["AlmaLinux:8", "java-1.8.0-openjdk", "1:1.8.0.392.b08-4.el8", "ALSA-2024:0265", "1:1.8.0.402.b06-2.el8"],
    ["Ubuntu:14.04", "python-django", "1.6.1-2", "USN-2169-1", "1.6.1-2ubuntu0.1"],
    ["Ubuntu:14.04:LTS", "python-django", "1.6-1", "USN-2169-1", "1.6.1-2ubuntu0.1"],
  ])("%s %s %s is affected by %s, fixed in %s", (ecosystem, name, version, vuln, fixed) => {
    const stats = emptyMatchStats();
    const match = byVuln(matchPackage(pkg(ecosystem, name, version), INDEX, stats), vuln);
    expect(match).toBeDefined();
    expect(match?.fixed).toBe(fixed);
    expect(stats.invalidVersions).toBe(0);
  });

  it.each<[string, string, string, string]>([
    ["npm", "lodash", "4.17.21", "CVE-2021-23337"], // the fixed version itself
    ["npm", "ip", "1.1.9", "CVE-2023-42282"], // above last_affected
    ["npm", "qs", "6.11.0", "CVE-2022-24999"],
    ["npm", "express", "5.0.0-alpha.0", "CVE-2024-29041"], // below introduced, and a pre-release
    ["npm", "ws", "2.0.0", "CVE-2024-37890"], // below the first introduced
    ["Maven", "org.apache.logging.log4j:log4j-core", "2.15.0", "CVE-2021-44228"],
    ["Maven", "org.apache.logging.log4j:log4j-core", "2.12.2", "CVE-2021-44228"],
    ["PyPI", "requests", "2.31.0", "CVE-2023-32681"],
    ["PyPI", "requests", "2.2.1", "CVE-2023-32681"], // below introduced 2.3.0
    ["Go", "stdlib", "1.20.10", "CVE-2023-39325"],
    ["Go", "golang.org/x/net", "0.17.0", "CVE-2023-39325"],
    ["crates.io", "smallvec", "1.6.1", "CVE-2021-25900"],
    ["crates.io", "smallvec", "0.6.2", "CVE-2021-25900"],
    ["AlmaLinux:9", "openssl", "1:3.0.7-27.el9", "ALSA-2024:2447"], // installed = fixed
    ["AlmaLinux:9", "java-1.8.0-openjdk", "1:1.8.0.392.b08-3.el9", "ALSA-2023:5733"],
    ["Ubuntu:14.04", "python-django", "1.6.1-2ubuntu0.1", "USN-2169-1"],
  ])("%s %s %s is not affected by %s", (ecosystem, name, version, vuln) => {
    expect(byVuln(matchPackage(pkg(ecosystem, name, version), INDEX), vuln)).toBeUndefined();
  });

  it("merges the GHSA and PYSEC advisories of one CVE into one match, with the higher severity", () => {
    const matches = matchPackage(pkg("PyPI", "requests", "2.30.0"), INDEX);
    const match = byVuln(matches, "CVE-2023-32681");
    expect(match).toEqual({
      vulnId: "CVE-2023-32681",
      advisoryIds: ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"],
      aliases: ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"],
      fixed: "2.31.0",
      // Only the GHSA record carries a vector: CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N is 6.1.
      severity: { score: 6.1, vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N" },
    });
    expect(matches.filter((m) => m.aliases.includes("GHSA-j8r2-6x86-q33q"))).toHaveLength(1);
  });

  it("keeps the CVE as the display id of a Go report with GHSA and CVE aliases", () => {
    const match = byVuln(matchPackage(pkg("Go", "golang.org/x/net", "0.16.0"), INDEX), "GO-2023-2102");
    expect(match?.vulnId).toBe("CVE-2023-39325");
    expect(match?.advisoryIds).toEqual(["GO-2023-2102"]);
    expect(match?.aliases).toEqual(["CVE-2023-39325", "GHSA-4374-p667-p6c8", "GO-2023-2102"]);
  });

  it("applies the release rules: AlmaLinux:8 never sees AlmaLinux:9 advisories", () => {
    const el8 = matchPackage(pkg("AlmaLinux:8", "java-1.8.0-openjdk", "1:1.8.0.300.b01-1.el8"), INDEX);
    const el9 = matchPackage(pkg("AlmaLinux:9", "java-1.8.0-openjdk", "1:1.8.0.300.b01-1.el9"), INDEX);
    // ALSA-2022:5709 … ALSA-2023:5733 have AlmaLinux:9 entries only.
    expect(byVuln(el8, "ALSA-2022:5709")).toBeUndefined();
    expect(byVuln(el9, "ALSA-2022:5709")).toBeDefined();
    expect(byVuln(el8, "ALSA-2024:0265")?.fixed).toBe("1:1.8.0.402.b06-2.el8");
    expect(matchPackage(pkg("AlmaLinux:10", "java-1.8.0-openjdk", "1:1.8.0.300.b01-1.el10"), INDEX)).toEqual(
      [],
    );
  });

  it("matches Ubuntu packages of the advisory's release only", () => {
    expect(matchPackage(pkg("Ubuntu:16.04", "python-django", "1.6.1-2"), INDEX)).toEqual([]);
    expect(matchPackage(pkg("Ubuntu:14.04", "python-django-doc", "1.6.1-2"), INDEX)).toEqual([]);
  });

  it("counts the GIT ranges it cannot evaluate", () => {
    const stats = emptyMatchStats();
    matchPackage(pkg("PyPI", "requests", "2.30.0"), INDEX, stats);
    expect(stats.gitRangesSkipped).toBeGreaterThan(0);
    expect(stats.evaluated).toBeGreaterThan(stats.gitRangesSkipped / 2);
  });
});

describe("matchPackage on Debian", () => {
  const dsa = record({
    id: "DSA-5532-1",
    aliases: ["CVE-2023-5363"],
    summary: "openssl - security update",
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" }],
    affected: [
      {
        package: { ecosystem: "Debian:12", name: "openssl" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.0.11-1~deb12u2" }] }],
      },
    ],
  });
  const tracker = record({
    id: "DEBIAN-CVE-2023-5363",
    aliases: ["CVE-2023-5363"],
    affected: [
      {
        package: { ecosystem: "Debian:12", name: "openssl" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.0.11-1~deb12u2" }] }],
      },
      {
        package: { ecosystem: "Debian:11", name: "openssl" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1.1w-0+deb11u1" }] }],
      },
    ],
  });
  const anyRelease = record({
    id: "DSA-9999-1",
    aliases: ["CVE-2099-0001"],
    affected: [
      {
        package: { ecosystem: "Debian", name: "bash" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "5.2.15-3" }] }],
      },
    ],
  });
  const index = AdvisoryIndex.fromRecords([dsa, tracker, anyRelease]);
  const libssl3 = pkg("Debian:12", "libssl3", "3.0.11-1~deb12u1", {
    sourceName: "openssl",
    sourceVersion: "3.0.11-1~deb12u1",
  });

  it("matches the binary libssl3 through its source package openssl, DSA and tracker merged", () => {
    expect(matchPackage(libssl3, index)).toEqual([
      {
        vulnId: "CVE-2023-5363",
        advisoryIds: ["DEBIAN-CVE-2023-5363", "DSA-5532-1"],
        aliases: ["CVE-2023-5363", "DEBIAN-CVE-2023-5363", "DSA-5532-1"],
        fixed: "3.0.11-1~deb12u2",
        severity: { score: 7.5, vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" },
      },
    ]);
  });

  it.each<[string, PackageRecord, string[]]>([
    [
      "the fixed source version",
      { ...libssl3, version: "3.0.11-1~deb12u2", sourceVersion: "3.0.11-1~deb12u2" },
      [],
    ],
    ["a binary without its source", { ...libssl3, sourceName: null, sourceVersion: null }, []],
    ["Debian:11 with a Debian:12 fix", { ...libssl3, ecosystem: "Debian:11" }, []],
    [
      "Debian:11 below its own fix",
      { ...libssl3, ecosystem: "Debian:11", version: "1.1.1n-0+deb11u5", sourceVersion: "1.1.1n-0+deb11u5" },
      ["CVE-2023-5363"],
    ],
    // A binNMU: the binary's "+b8" version is not the source's; the source version is compared.
    [
      "an advisory without a release, binNMU",
      pkg("Debian:12", "bash", "5.2.15-2+b8", { sourceName: "bash", sourceVersion: "5.2.15-2" }),
      ["CVE-2099-0001"],
    ],
    [
      "an advisory without a release, Debian:11",
      pkg("Debian:11", "bash", "5.1-2+deb11u1"),
      ["CVE-2099-0001"],
    ],
    ["the source package itself", pkg("Debian:12", "openssl", "3.0.9-1"), ["CVE-2023-5363"]],
  ])("%s", (_, record, expected) => {
    expect(matchPackage(record, index).map((m) => m.vulnId)).toEqual(expected);
  });
});

describe("matchPackage links a DSA to its CVEs through `upstream`", () => {
  const affected = [
    {
      package: { ecosystem: "Debian:12", name: "openssh" },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1:9.2p1-2+deb12u3" }] }],
    },
  ];
  const server = pkg("Debian:12", "openssh-server", "1:9.2p1-2+deb12u2", {
    sourceName: "openssh",
    sourceVersion: "1:9.2p1-2+deb12u2",
  });

  it("names the vulnerability by its one upstream CVE and keeps every id", () => {
    const index = AdvisoryIndex.fromRecords([
      record({ id: "DSA-5724-1", upstream: ["CVE-2024-6387"], affected }),
    ]);
    const [match] = matchPackage(server, index);
    expect(match).toMatchObject({
      vulnId: "CVE-2024-6387",
      advisoryIds: ["DSA-5724-1"],
      fixed: "1:9.2p1-2+deb12u3",
    });
    expect(match?.aliases).toEqual(["CVE-2024-6387", "DSA-5724-1"]);
  });

  it("keeps the advisory id when the DSA fixes several CVEs", () => {
    const index = AdvisoryIndex.fromRecords([
      record({ id: "DSA-9999-1", upstream: ["CVE-2024-0001", "CVE-2024-0002"], affected }),
    ]);
    expect(matchPackage(server, index)[0]?.vulnId).toBe("DSA-9999-1");
  });
});

describe("matchPackage never throws on bad input", () => {
  const index = AdvisoryIndex.fromRecords([
    record({
      id: "GHSA-test-0001",
      affected: [
        {
          package: { ecosystem: "npm", name: "left-pad" },
          ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "not-a-version" }] }],
        },
        {
          package: { ecosystem: "npm", name: "left-pad" },
          ranges: [{ type: "SEMVER", events: [{ introduced: "2.0.0" }, { fixed: "2.0.1" }] }],
        },
      ],
    }),
  ]);

  it("counts an invalid installed version and skips the package", () => {
    const stats = emptyMatchStats();
    expect(matchPackage(pkg("npm", "left-pad", "latest"), index, stats)).toEqual([]);
    expect(stats.invalidVersions).toBe(1);
  });

  it("skips an entry with an invalid range version and still evaluates the others", () => {
    const stats = emptyMatchStats();
    expect(matchPackage(pkg("npm", "left-pad", "1.0.0"), index, stats)).toEqual([]);
    expect(stats.invalidVersions).toBe(1);
    const again = emptyMatchStats();
    const hit = matchPackage(pkg("npm", "left-pad", "2.0.0"), index, again);
    expect(hit.map((m) => [m.vulnId, m.fixed])).toEqual([["GHSA-test-0001", "2.0.1"]]);
    expect(again.invalidVersions).toBe(1);
    expect(again.evaluated).toBe(2);
  });

  it("counts packages of ecosystems without a version scheme", () => {
    const stats = emptyMatchStats();
    expect(matchPackage(pkg("RubyGems", "rails", "7.0.0"), index, stats)).toEqual([]);
    expect(matchPackage(pkg("Packagist", "laravel/framework", "7.12.0"), index, stats)).toEqual([]);
    expect(stats.unsupportedEcosystems).toBe(2);
  });
});

describe("matchPackage agrees with the plain OSV evaluator", () => {
  // Every version the RustSec, GHSA and some PYSEC records name (range events and `versions` lists) as
  // an installed version: the ranked fast path must give what isAffected and lowestFixedAbove give.
  const pysecNames = new Set(["jinja2", "requests", "urllib3"]);
  const records = [
    ...RUST,
    ...GHSA,
    ...PYSEC.filter((r) => r.affected?.some((a) => pysecNames.has(a.package.name.toLowerCase()))),
  ].filter((r) => r.withdrawn === undefined);
  const index = AdvisoryIndex.fromRecords(records);
  const byPackage = new Map<string, OsvRecord[]>();
  const probes = new Map<string, PackageRecord>();
  for (const r of records) {
    for (const a of r.affected ?? []) {
      const key = `${a.package.ecosystem} ${a.package.name}`;
      const list = byPackage.get(key) ?? [];
      if (!list.includes(r)) list.push(r);
      byPackage.set(key, list);
      const versions = [
        ...(a.versions ?? []),
        ...(a.ranges ?? [])
          .filter((g) => g.type !== "GIT")
          .flatMap((g) => g.events.flatMap((e) => Object.values(e))),
      ];
      for (const v of versions)
        if (v !== "0") probes.set(`${key} ${v}`, pkg(a.package.ecosystem, a.package.name, v));
    }
  }

  it(`gives the same advisories and fixes for ${probes.size} real versions`, () => {
    let compared = 0;
    for (const p of probes.values()) {
      const scheme = schemeForEcosystem(p.ecosystem);
      if (!scheme.isValid(p.version)) continue;
      const expected = new Map<string, string | null>();
      for (const r of byPackage.get(`${p.ecosystem} ${p.name}`) ?? []) {
        const entries = (r.affected ?? []).filter(
          (a) => a.package.name === p.name && a.package.ecosystem === p.ecosystem,
        );
        if (entries.some((a) => isAffected(a, p.version, scheme))) {
          expected.set(r.id, lowestFixedAbove(entries, p.version, scheme));
        }
      }
      const matches = matchPackage(p, index);
      expect(matches.flatMap((m) => m.advisoryIds).sort(), JSON.stringify(p)).toEqual(
        [...expected.keys()].sort(),
      );
      for (const m of matches) {
        const [only] = m.advisoryIds;
        if (m.advisoryIds.length === 1 && only !== undefined) expect(m.fixed).toBe(expected.get(only));
      }
      compared += 1;
    }
    expect(compared).toBeGreaterThan(2000);
  });
});
