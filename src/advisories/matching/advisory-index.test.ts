import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type OsvRecord, parseOsvRecord } from "../osv/schema.js";
import { AdvisoryIndex, entriesOf } from "./advisory-index.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/osv/", import.meta.url));

function jsonl(name: string): OsvRecord[] {
  return readFileSync(`${DATA}${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => parseOsvRecord(JSON.parse(l), { file: `${name}:${i + 1}` }));
}

function find(list: OsvRecord[], id: string): OsvRecord {
  const r = list.find((x) => x.id === id);
  if (r === undefined) throw new Error(`fixture ${id} not found`);
  return r;
}

const GHSA = jsonl("ghsa-sample-trimmed.jsonl");
const GO = jsonl("go-vulndb.jsonl");

describe("entriesOf", () => {
  it("gives one entry per affected[] entry, with the record's severity and ids", () => {
    const log4shell = find(GHSA, "GHSA-jfh8-c2jp-5v3q");
    const entries = entriesOf(log4shell);
    expect(entries).toHaveLength(3);
    for (const e of entries) {
      expect(e).toMatchObject({
        id: "GHSA-jfh8-c2jp-5v3q",
        aliases: ["CVE-2021-44228"],
        ecosystem: "Maven",
        ecosystemRelease: "",
        name: "org.apache.logging.log4j:log4j-core",
        severity: { score: 10, version: "3.1" },
      });
    }
  });

  it("splits the release off the ecosystem", () => {
    const usn = parseOsvRecord(JSON.parse(readFileSync(`${DATA}ubuntu-USN-2169-1.json`, "utf8")), {
      file: "usn",
    });
    expect(entriesOf(usn).map((e) => [e.ecosystem, e.ecosystemRelease, e.name])).toEqual([
      ["Ubuntu", "14.04", "python-django"],
    ]);
  });

  it("gives nulls for a record without severity", () => {
    const [entry] = entriesOf(find(GHSA, "GHSA-78xj-cgh5-2h22"));
    expect(entry?.severity).toEqual({ score: null, vector: null, version: null });
  });
});

describe("AdvisoryIndex", () => {
  it("leaves withdrawn records out", () => {
    const withdrawn = find(GO, "GO-2022-0617");
    expect(entriesOf(withdrawn)).toHaveLength(1);
    const index = AdvisoryIndex.fromRecords([withdrawn]);
    expect(index.size).toBe(0);
    expect(index.candidates("Go", "k8s.io/kubernetes")).toEqual([]);
  });

  it("keeps the latest of records with the same id", () => {
    const base = {
      id: "GHSA-xxxx-0001",
      affected: [{ package: { ecosystem: "npm", name: "a" }, versions: ["1.0.0"] }],
    };
    const older = parseOsvRecord({ ...base, modified: "2024-01-01T00:00:00Z" }, { file: "a" });
    const newer = parseOsvRecord(
      {
        ...base,
        modified: "2024-01-01T00:00:00.5Z",
        affected: [{ ...base.affected[0], versions: ["2.0.0"] }],
      },
      { file: "b" },
    );
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const index = AdvisoryIndex.fromRecords(order);
      expect(index.size).toBe(1);
      expect(index.candidates("npm", "a").map((e) => e.affected.versions)).toEqual([["2.0.0"]]);
    }
  });

  it("finds candidates by canonical ecosystem and name, narrowed to the release", () => {
    const index = AdvisoryIndex.fromRecords([
      ...GHSA,
      parseOsvRecord(
        {
          id: "DSA-1-1",
          modified: "2024-01-01T00:00:00Z",
          affected: [
            { package: { ecosystem: "Debian:11", name: "openssl" }, versions: ["1.1.1n-0+deb11u4"] },
            { package: { ecosystem: "Debian:12", name: "openssl" }, versions: ["3.0.9-1"] },
            { package: { ecosystem: "Debian", name: "openssl" }, versions: ["0.9.8"] },
          ],
        },
        { file: "dsa" },
      ),
    ]);
    expect(index.candidates("npm", "qs")).toHaveLength(9);
    expect(index.candidates("semver", "qs")).toHaveLength(9);
    expect(index.candidates("PyPI", "Requests").map((e) => e.id)).toEqual(["GHSA-j8r2-6x86-q33q"]);
    expect(index.candidates("Debian:12", "openssl").map((e) => e.ecosystemRelease)).toEqual(["12", ""]);
    expect(index.candidates("Debian:11", "openssl").map((e) => e.ecosystemRelease)).toEqual(["11", ""]);
    expect(index.candidates("Debian", "openssl").map((e) => e.ecosystemRelease)).toEqual([""]);
    expect(index.candidates("Debian:12", "libssl3")).toEqual([]);
    expect(index.candidates("RubyGems", "qs")).toEqual([]);
    expect(index.size).toBe(GHSA.reduce((n, r) => n + (r.affected?.length ?? 0), 0) + 3);
  });
});
