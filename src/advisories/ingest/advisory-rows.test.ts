import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type OsvRecord, parseOsvRecord } from "../osv/schema.js";
import { advisoryRows, countGitRanges } from "./advisory-rows.js";

const OSV = fileURLToPath(new URL("../../../test/fixtures/data/osv/", import.meta.url));

/** One record of a fixture file, by id, validated as the import sees it. */
function fixture(file: string, id: string): OsvRecord {
  const text = readFileSync(`${OSV}${file}`, "utf8");
  const values: unknown[] = file.endsWith(".jsonl")
    ? text
        .split("\n")
        .filter((l) => l.includes(`"id":"${id}"`))
        .map((l) => JSON.parse(l))
    : [JSON.parse(text)];
  const value = values.find((v) => (v as { id?: string }).id === id);
  if (value === undefined) throw new Error(`no ${id} in ${file}`);
  return parseOsvRecord(value, { file });
}

describe("advisoryRows", () => {
  it("keeps a GHSA record's packages, aliases (with its own id) and highest CVSS score", () => {
    const rows = advisoryRows(fixture("ghsa-sample-trimmed.jsonl", "GHSA-35jh-r3h4-6jhm"));
    expect(rows.advisory).toMatchObject({
      id: "GHSA-35jh-r3h4-6jhm",
      modified: "2022-02-08T21:35:09Z",
      withdrawn: null,
      summary: "Command Injection in lodash",
      severity_score: 7.2,
      severity_version: "3.1",
      git_ranges: 0,
    });
    expect(JSON.parse(rows.advisory.aliases)).toEqual(["CVE-2021-23337"]);
    expect(rows.aliases).toEqual(["GHSA-35jh-r3h4-6jhm", "CVE-2021-23337"]);
    expect(rows.packages.map((p) => [p.idx, p.ecosystem, p.ecosystem_release, p.name])).toEqual([
      [0, "npm", "", "lodash"],
      [1, "npm", "", "lodash-es"],
    ]);
    expect(JSON.parse(rows.packages[0]?.affected ?? "")).toMatchObject({ package: { name: "lodash" } });
  });

  it.each([
    ["ubuntu-USN-2169-1.json", "USN-2169-1", "Ubuntu", "14.04", "python-django"],
    ["almalinux9.jsonl", "ALBA-2022:8256", "AlmaLinux", "9", "qatzip"],
    ["go-vulndb.jsonl", "GO-2020-0001", "Go", "", "github.com/gin-gonic/gin"],
  ])("%s %s: ecosystem split into canonical base and release", (file, id, base, release, name) => {
    const [first] = advisoryRows(fixture(file, id)).packages;
    expect(first).toMatchObject({ ecosystem: base, ecosystem_release: release, name });
  });

  it("stores a withdrawn record without packages, so nothing matches it", () => {
    const rows = advisoryRows(fixture("go-vulndb.jsonl", "GO-2022-0617"));
    expect(rows.advisory.withdrawn).toBe("2024-08-21T16:25:56Z");
    expect(rows.packages).toEqual([]);
    expect(rows.aliases).toEqual(["GO-2022-0617", "CVE-2020-8562", "GHSA-qh36-44jv-c8xj"]);
  });

  it("counts GIT ranges and falls back to the details' first line for a missing summary", () => {
    const record = fixture("pypa-pysec.jsonl", "PYSEC-2012-1");
    expect(countGitRanges(record)).toBe(1);
    const rows = advisoryRows(record);
    expect(rows.advisory.git_ranges).toBe(1);
    expect(rows.advisory.summary).toMatch(/^Beaker before 1\.6\.4, when using PyCrypto/);
  });

  it("stores canonical JSON: the same content gives the same text whatever the key order", () => {
    const record = fixture("ghsa-sample-trimmed.jsonl", "GHSA-35jh-r3h4-6jhm");
    const reordered = Object.fromEntries(Object.entries(record).reverse()) as OsvRecord;
    expect(advisoryRows(reordered).advisory.record).toBe(advisoryRows(record).advisory.record);
  });
});
