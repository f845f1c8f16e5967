import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../domain/errors.js";
import { pypiScheme } from "../../ecosystems/pypi/pypi-scheme.js";
import { schemeForEcosystem } from "../../ecosystems/registry.js";
import type { VersionScheme } from "../../ecosystems/scheme.js";
import { semverScheme } from "../../ecosystems/semver/semver-scheme.js";
import { countGitRanges, fixedVersionsAbove, isAffected, lowestFixedAbove } from "./ranges.js";
import { type OsvAffected, type OsvEvent, type OsvRecord, parseOsvRecord } from "./schema.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/", import.meta.url));

function records(name: string): OsvRecord[] {
  return readFileSync(`${DATA}osv/${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => parseOsvRecord(JSON.parse(l), { file: `${name}:${i + 1}` }));
}

const ALL = {
  go: records("go-vulndb.jsonl"),
  rust: records("rustsec-crates.jsonl"),
  alma: records("almalinux9.jsonl"),
  ghsa: records("ghsa-sample-trimmed.jsonl"),
  pysec: records("pypa-pysec.jsonl"),
};
const usn = parseOsvRecord(JSON.parse(readFileSync(`${DATA}osv/ubuntu-USN-2169-1.json`, "utf8")), {
  file: "usn",
});

function find(list: OsvRecord[], id: string): OsvRecord {
  const r = list.find((x) => x.id === id);
  if (r === undefined) throw new Error(`fixture ${id} not found`);
  return r;
}

/** Every affected[] entry of the record for one package, as GHSA writes one entry per range. */
function entriesFor(record: OsvRecord, name: string): OsvAffected[] {
  return (record.affected ?? []).filter((a) => a.package.name === name);
}

function affectedBy(record: OsvRecord, name: string, version: string): boolean {
  return entriesFor(record, name).some((a) =>
    isAffected(a, version, schemeForEcosystem(a.package.ecosystem)),
  );
}

const semverRange = (events: OsvEvent[], versions?: string[]): OsvAffected => ({
  package: { ecosystem: "npm", name: "x" },
  ranges: [{ type: "SEMVER", events }],
  ...(versions === undefined ? {} : { versions }),
});

describe("isAffected: the OSV evaluation algorithm", () => {
  it.each<[string, OsvEvent[], string, boolean]>([
    ["introduced 0 affects everything", [{ introduced: "0" }], "0.0.1", true],
    ["introduced 0, fixed: below", [{ introduced: "0" }, { fixed: "1.0.2" }], "1.0.1", true],
    ["introduced 0, fixed: at the fix", [{ introduced: "0" }, { fixed: "1.0.2" }], "1.0.2", false],
    ["introduced is inclusive", [{ introduced: "1.0.0" }, { fixed: "1.0.2" }], "1.0.0", true],
    ["below introduced", [{ introduced: "1.0.0" }, { fixed: "1.0.2" }], "0.9.9", false],
    ["pre-release before introduced", [{ introduced: "1.0.0" }], "1.0.0-rc.1", false],
    ["last_affected is inclusive", [{ introduced: "0" }, { last_affected: "1.1.8" }], "1.1.8", true],
    ["above last_affected", [{ introduced: "0" }, { last_affected: "1.1.8" }], "1.1.9", false],
    ["limit excludes its version", [{ introduced: "1.0.0" }, { limit: "2.0.0" }], "2.0.0", false],
    ["below a limit", [{ introduced: "1.0.0" }, { limit: "2.0.0" }], "1.9.0", true],
    ["limit * is infinity", [{ introduced: "1.0.0" }, { limit: "*" }], "99.0.0", true],
    [
      "any of several limits",
      [{ introduced: "1.0.0" }, { limit: "1.5.0" }, { limit: "3.0.0" }],
      "2.0.0",
      true,
    ],
    [
      "second range",
      [{ introduced: "1.0.0" }, { fixed: "1.0.2" }, { introduced: "3.0.0" }, { fixed: "3.2.5" }],
      "3.1.0",
      true,
    ],
    [
      "between ranges",
      [{ introduced: "1.0.0" }, { fixed: "1.0.2" }, { introduced: "3.0.0" }, { fixed: "3.2.5" }],
      "2.0.0",
      false,
    ],
    ["unsorted: fixed listed first", [{ fixed: "1.0.2" }, { introduced: "0" }], "1.0.0", true],
    [
      "unsorted: later range first",
      [{ introduced: "3.0.0" }, { fixed: "3.2.5" }, { introduced: "1.0.0" }, { fixed: "1.0.2" }],
      "1.0.1",
      true,
    ],
  ])("%s (%j, %s → %s)", (_, events, version, expected) => {
    expect(isAffected(semverRange(events), version, semverScheme)).toBe(expected);
  });

  it("matches the explicit versions list, with or without ranges", () => {
    const listed = semverRange([{ introduced: "5.0.0" }], ["1.2.3"]);
    expect(isAffected(listed, "1.2.3", semverScheme)).toBe(true);
    expect(isAffected(listed, "1.2.4", semverScheme)).toBe(false);
  });

  it("does not evaluate GIT ranges", () => {
    const git: OsvAffected = {
      package: { ecosystem: "PyPI", name: "x" },
      ranges: [{ type: "GIT", repo: "https://example.org/x", events: [{ introduced: "0" }] }],
    };
    expect(isAffected(git, "1.0", pypiScheme)).toBe(false);
  });

  it("throws ValidationError for an invalid installed version and for an invalid event version", () => {
    expect(() => isAffected(semverRange([{ introduced: "0" }]), "not-a-version", semverScheme)).toThrow(
      ValidationError,
    );
    expect(() => isAffected(semverRange([{ introduced: "1.x" }]), "1.0.0", semverScheme)).toThrow(
      ValidationError,
    );
  });
});

describe("isAffected on real records (schemes from the ecosystem registry)", () => {
  it.each<[string, OsvRecord, string, string, boolean]>([
    ["go-vulndb", find(ALL.go, "GO-2020-0001"), "github.com/gin-gonic/gin", "1.5.0", true],
    ["go-vulndb", find(ALL.go, "GO-2020-0001"), "github.com/gin-gonic/gin", "1.6.0", false],
    ["go-vulndb", find(ALL.go, "GO-2020-0001"), "github.com/gin-gonic/gin", "1.9.1", false],
    ["rustsec 0.0.0-0", find(ALL.rust, "RUSTSEC-2016-0001"), "openssl", "0.0.1", true],
    ["rustsec 0.0.0-0", find(ALL.rust, "RUSTSEC-2016-0001"), "openssl", "0.8.3", true],
    ["rustsec 0.0.0-0", find(ALL.rust, "RUSTSEC-2016-0001"), "openssl", "0.9.0", false],
    ["almalinux RPM EVR", find(ALL.alma, "ALBA-2022:8256"), "qatzip", "1.0.7-1.el9", true],
    ["almalinux RPM EVR", find(ALL.alma, "ALBA-2022:8256"), "qatzip", "1.0.9-0.el9", true],
    ["almalinux RPM EVR", find(ALL.alma, "ALBA-2022:8256"), "qatzip", "1.0.9-1.el9", false],
    ["almalinux RPM EVR", find(ALL.alma, "ALBA-2022:8256"), "qatzip", "1.0.10-1.el9", false],
    ["GHSA last_affected (ip)", find(ALL.ghsa, "GHSA-78xj-cgh5-2h22"), "ip", "1.1.8", true],
    ["GHSA last_affected (ip)", find(ALL.ghsa, "GHSA-78xj-cgh5-2h22"), "ip", "1.1.9", false],
    ["GHSA last_affected (vm2)", find(ALL.ghsa, "GHSA-cchq-frgv-rjh5"), "vm2", "3.9.19", true],
    ["GHSA last_affected (vm2)", find(ALL.ghsa, "GHSA-cchq-frgv-rjh5"), "vm2", "3.10.0", false],
    [
      "GHSA Maven ranges",
      find(ALL.ghsa, "GHSA-jfh8-c2jp-5v3q"),
      "org.apache.logging.log4j:log4j-core",
      "2.14.1",
      true,
    ],
    [
      "GHSA Maven ranges",
      find(ALL.ghsa, "GHSA-jfh8-c2jp-5v3q"),
      "org.apache.logging.log4j:log4j-core",
      "2.12.2",
      false,
    ],
    [
      "GHSA Maven ranges",
      find(ALL.ghsa, "GHSA-jfh8-c2jp-5v3q"),
      "org.apache.logging.log4j:log4j-core",
      "2.3",
      true,
    ],
    [
      "GHSA Maven RELEASE",
      find(ALL.ghsa, "GHSA-36p3-wjmg-h94x"),
      "org.springframework:spring-beans",
      "5.2.19.RELEASE",
      true,
    ],
    [
      "GHSA Maven RELEASE",
      find(ALL.ghsa, "GHSA-36p3-wjmg-h94x"),
      "org.springframework:spring-beans",
      "5.2.20.RELEASE",
      false,
    ],
    ["GHSA npm pre-release", find(ALL.ghsa, "GHSA-rv95-896h-c2vc"), "express", "5.0.0-beta.1", true],
    ["GHSA npm pre-release", find(ALL.ghsa, "GHSA-rv95-896h-c2vc"), "express", "5.0.0-beta.3", false],
    ["GHSA PyPI", find(ALL.ghsa, "GHSA-j8r2-6x86-q33q"), "requests", "2.30.0", true],
    ["GHSA PyPI", find(ALL.ghsa, "GHSA-j8r2-6x86-q33q"), "requests", "2.31.0", false],
    // fixed 3.1.1 and introduced 3.1.1 in one range, in that order: its versions list has 3.1.1 too.
    ["PYSEC re-introduced at a fix", find(ALL.pysec, "PYSEC-2022-236"), "pyspark", "3.1.1", true],
    ["PYSEC re-introduced at a fix", find(ALL.pysec, "PYSEC-2022-236"), "pyspark", "3.1.3", false],
    ["PYSEC re-introduced at a fix", find(ALL.pysec, "PYSEC-2022-236"), "pyspark", "3.2.1", true],
    ["Ubuntu USN versions list", usn, "python-django", "1.6-1", true],
    ["Ubuntu USN range", usn, "python-django", "1.6.1-2", true],
    ["Ubuntu USN fixed", usn, "python-django", "1.6.1-2ubuntu0.1", false],
    ["Ubuntu USN later", usn, "python-django", "1.6.1-2ubuntu1", false],
  ])("%s: %s %s@%s → %s", (_, record, name, version, expected) => {
    expect(affectedBy(record, name, version)).toBe(expected);
  });

  // Over every well-formed single range of the real databases: each introduced version is affected and
  // each fixed version is not (a range with events sorted strictly increasing, alternating kinds).
  // PYSEC-2019-125 ("2019-09-12") and PYSEC-2021-371 ("0.2.0-n653") carry event versions that are not
  // PEP 440; evaluating those ranges throws, naming the event.
  it.each<[keyof typeof ALL, number]>([
    ["go", 0],
    ["rust", 0],
    ["alma", 0],
    ["pysec", 2],
  ])("%s: introduced versions affected, fixed versions not (%i bad ranges)", (db, badRanges) => {
    let checked = 0;
    let bad = 0;
    for (const record of ALL[db]) {
      for (const entry of record.affected ?? []) {
        const scheme = schemeForEcosystem(entry.package.ecosystem);
        for (const range of entry.ranges ?? []) {
          if (range.type === "GIT") continue;
          const single: OsvAffected = { package: entry.package, ranges: [range] };
          const badEvent = range.events.findIndex((e) =>
            Object.values(e).some((v: string) => v !== "0" && !scheme.isValid(v)),
          );
          if (badEvent !== -1) {
            bad += 1;
            const err = (() => {
              try {
                isAffected(single, "1.0", scheme);
              } catch (e) {
                return e;
              }
            })();
            expect(err).toBeInstanceOf(ValidationError);
            expect((err as ValidationError).where).toBe(`/ranges/0/events/${badEvent}`);
            continue;
          }
          // A version both fixed and re-introduced in one range (PYSEC-2022-236: fixed 3.1.1, introduced
          // 3.1.1) is decided by the record's order at the tie; it is left out here.
          const fixes = range.events.flatMap((e) => ("fixed" in e ? [e.fixed] : []));
          const tied = (v: string) => fixes.some((f) => scheme.compare(f, v) === 0);
          for (const e of range.events) {
            if ("introduced" in e && e.introduced !== "0" && !tied(e.introduced)) {
              expect(isAffected(single, e.introduced, scheme), `${record.id} ${e.introduced}`).toBe(true);
              checked += 1;
            }
            if ("fixed" in e && !range.events.some((x) => "introduced" in x && x.introduced === e.fixed)) {
              expect(isAffected(single, e.fixed, scheme), `${record.id} fixed ${e.fixed}`).toBe(false);
              checked += 1;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(bad).toBe(badRanges);
  });
});

/** RubyGems has no registered scheme; its vectors use plain dotted numbers, where PEP 440 orders alike. */
function schemeOrPlainNumbers(ecosystem: string): VersionScheme {
  return ecosystem === "RubyGems" ? pypiScheme : schemeForEcosystem(ecosystem);
}

describe("isAffected on the GHSA→OSV conversion test vectors (ossf/osv-schema tools/ghsa/testdata)", () => {
  const dir = `${DATA}testvectors/osv-schema-ghsa-conversion/`;
  const vector = (name: string) =>
    parseOsvRecord(JSON.parse(readFileSync(`${dir}${name}.osv.json`, "utf8")), { file: name });

  it.each<[string, string, boolean]>([
    ["equals_no_patch", "1.1.6", true],
    ["equals_no_patch", "1.1.5", false],
    ["equals_no_patch", "1.1.7", false],
    // unsorted: introduced 0, introduced 2.0.0, fixed 2.0.1, fixed 1.3.2
    ["equals_with_patch", "1.3.1", true],
    ["equals_with_patch", "1.3.2", false],
    ["equals_with_patch", "1.9.9", false],
    ["equals_with_patch", "2.0.0", true],
    ["equals_with_patch", "2.0.1", false],
    ["full_ranges", "2.5.0", true],
    ["full_ranges", "2.5.15", true],
    ["full_ranges", "2.5.16", false],
    ["full_ranges", "2.4.20", false],
    ["greater_than_equals_no_patch", "0.0.1", true],
    ["greater_than_equals_no_patch", "99.0.0", true],
    ["less_than_equals_no_patch", "1.0.0", true],
    ["less_than_equals_with_patch", "1.10.2", true],
    ["less_than_equals_with_patch", "1.10.3", false],
    // unsorted Maven: [12.10.0, 12.10.2) [12.0, 12.6.7) [11.6.1, 11.10.13)
    ["maven_greater_than", "11.6", false],
    ["maven_greater_than", "11.6.1", true],
    ["maven_greater_than", "11.10.12", true],
    ["maven_greater_than", "11.10.13", false],
    ["maven_greater_than", "12.6.6", true],
    ["maven_greater_than", "12.6.7", false],
    ["maven_greater_than", "12.10.1", true],
    ["maven_greater_than", "12.10.2", false],
    ["maven_greater_than", "13.0", false],
    // RubyGems passenger: introduced 0, introduced 4.0.1, fixed 4.0.5, fixed 3.0.21
    ["multiple_ranges_in_package", "3.0.20", true],
    ["multiple_ranges_in_package", "3.0.21", false],
    ["multiple_ranges_in_package", "4.0.0", false],
    ["multiple_ranges_in_package", "4.0.4", true],
    ["multiple_ranges_in_package", "4.0.5", false],
  ])("%s @ %s → %s", (name, version, expected) => {
    const record = vector(name);
    const got = (record.affected ?? []).some((a) =>
      isAffected(a, version, schemeOrPlainNumbers(a.package.ecosystem)),
    );
    expect(got).toBe(expected);
  });

  it("covers every vector with ranges or versions", () => {
    const names = readdirSync(dir).filter((n) => n.endsWith(".osv.json"));
    for (const name of names) {
      const record = vector(name.replace(/\.osv\.json$/, ""));
      for (const a of record.affected ?? []) {
        expect(() => isAffected(a, "1.0.0", schemeOrPlainNumbers(a.package.ecosystem))).not.toThrow();
      }
    }
  });
});

describe("fixedVersionsAbove and lowestFixedAbove", () => {
  const mixin = semverRange([
    { introduced: "0" },
    { introduced: "2.0.0" },
    { fixed: "2.0.1" },
    { fixed: "1.3.2" },
  ]);

  it("lists the fixes above the installed version, lowest first", () => {
    expect(fixedVersionsAbove(mixin, "1.0.0", semverScheme)).toEqual(["1.3.2", "2.0.1"]);
    expect(fixedVersionsAbove(mixin, "2.0.0", semverScheme)).toEqual(["2.0.1"]);
    expect(fixedVersionsAbove(mixin, "2.0.1", semverScheme)).toEqual([]);
  });

  it.each<[string, OsvRecord, string, string, string | null]>([
    ["one range", find(ALL.go, "GO-2020-0001"), "github.com/gin-gonic/gin", "1.4.0", "1.6.0"],
    ["last_affected has no fix", find(ALL.ghsa, "GHSA-78xj-cgh5-2h22"), "ip", "1.1.5", null],
    ["GHSA entry per range (ws 6.x)", find(ALL.ghsa, "GHSA-3h5v-q93c-6h6q"), "ws", "6.1.0", "6.2.3"],
    ["GHSA entry per range (ws 2.x)", find(ALL.ghsa, "GHSA-3h5v-q93c-6h6q"), "ws", "3.0.0", "5.2.4"],
    ["GHSA qs 6.5.x", find(ALL.ghsa, "GHSA-hrpp-h998-j3pp"), "qs", "6.5.2", "6.5.3"],
    ["RPM EVR", find(ALL.alma, "ALBA-2022:8256"), "qatzip-libs", "1.0.7-1.el9", "1.0.9-1.el9"],
    ["Ubuntu", usn, "python-django", "1.6-1", "1.6.1-2ubuntu0.1"],
  ])("%s: %s %s@%s → %s", (_, record, name, version, expected) => {
    const entries = entriesFor(record, name);
    const scheme = schemeForEcosystem(entries[0]?.package.ecosystem ?? "");
    expect(lowestFixedAbove(entries, version, scheme)).toBe(expected);
  });

  it("skips a fix that another entry for the package still marks affected", () => {
    const overlap = [
      semverRange([{ introduced: "0" }, { fixed: "1.3.0" }]),
      semverRange([{ introduced: "1.2.0" }, { fixed: "1.5.0" }]),
    ];
    expect(fixedVersionsAbove(overlap, "1.2.5", semverScheme)).toEqual(["1.3.0", "1.5.0"]);
    expect(lowestFixedAbove(overlap, "1.2.5", semverScheme)).toBe("1.5.0");
  });
});

describe("countGitRanges", () => {
  it("counts the 1,391 GIT ranges of the PYSEC file and none elsewhere", () => {
    expect(ALL.pysec.reduce((n, r) => n + countGitRanges(r), 0)).toBe(1391);
    expect(ALL.go.reduce((n, r) => n + countGitRanges(r), 0)).toBe(0);
  });
});
