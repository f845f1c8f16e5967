import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validationErrorOf } from "../../../test/helpers/errors.js";
import { type OsvRecord, parseOsvRecord } from "./schema.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/", import.meta.url));

function jsonl(name: string): unknown[] {
  return readFileSync(`${DATA}osv/${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}

// Per-file counts from test/fixtures/data/SOURCES.md (9,958 records in all).
const FILES: Array<[string, number, number]> = [
  ["almalinux9.jsonl", 1783, 0],
  ["ghsa-sample-trimmed.jsonl", 16, 0],
  ["go-vulndb.jsonl", 4291, 17],
  ["pypa-pysec.jsonl", 2661, 10],
  ["rustsec-crates.jsonl", 1206, 13],
];

describe("parseOsvRecord on the real advisory files", () => {
  it.each(FILES)("%s: %i records parse, %i withdrawn", (name, count, withdrawn) => {
    const records = jsonl(name).map((v, i) => parseOsvRecord(v, { file: `${name}:${i + 1}` }));
    expect(records).toHaveLength(count);
    expect(records.filter((r) => r.withdrawn !== undefined)).toHaveLength(withdrawn);
  });

  it("parses the Ubuntu USN and counts 9,958 records in all", () => {
    const usn = parseOsvRecord(JSON.parse(readFileSync(`${DATA}osv/ubuntu-USN-2169-1.json`, "utf8")), {
      file: "ubuntu-USN-2169-1.json",
    });
    expect(usn.affected?.[0]?.versions).toEqual(["1.5.4-1ubuntu1", "1.6-1", "1.6.1-1", "1.6.1-2"]);
    expect(usn.upstream).toHaveLength(3);
    expect(FILES.reduce((n, [, c]) => n + c, 0) + 1).toBe(9958);
  });

  it("accepts the PYSEC GIT events that are not full commit hashes (SOURCES.md quirk)", () => {
    const odd = jsonl("pypa-pysec.jsonl")
      .map((v) => parseOsvRecord(v, { file: "pysec" }))
      .filter((r) =>
        (r.affected ?? []).some((a) =>
          (a.ranges ?? []).some(
            (g) =>
              g.type === "GIT" &&
              g.events.some((e) =>
                Object.values(e).some((x) => x !== "0" && !/^([a-f0-9]{40}|[a-f0-9]{64})$/.test(x)),
              ),
          ),
        ),
      );
    expect(odd).toHaveLength(7);
  });

  it("parses every expected OSV output of the GHSA conversion test vectors", () => {
    const dir = `${DATA}testvectors/osv-schema-ghsa-conversion/`;
    const names = readdirSync(dir).filter((n) => n.endsWith(".osv.json"));
    expect(names).toHaveLength(11);
    for (const name of names) {
      const record = parseOsvRecord(JSON.parse(readFileSync(dir + name, "utf8")), { file: name });
      expect(record.id).toMatch(/^GHSA-/);
    }
  });

  it("turns null lists into undefined and drops unknown top-level keys", () => {
    const r: OsvRecord = parseOsvRecord(
      { id: "X-1", modified: "2024-01-01T00:00:00Z", aliases: null, affected: null, x_future: 1 },
      { file: "f.json" },
    );
    expect(r.aliases).toBeUndefined();
    expect(r.affected).toBeUndefined();
    expect("x_future" in r).toBe(false);
  });
});

const base = { id: "GHSA-test", modified: "2024-01-01T00:00:00Z" };
const pkg = { ecosystem: "npm", name: "x" };
const ranged = (range: unknown) => ({ ...base, affected: [{ package: pkg, ranges: [range] }] });

describe("parseOsvRecord rejects what the OSV schema rejects, pointing at the first problem", () => {
  it.each<[string, unknown, string]>([
    ["missing id", { modified: base.modified }, "f.json#/id"],
    ["missing modified", { id: "X-1" }, "f.json#/modified"],
    ["timestamp without Z", { ...base, published: "2024-01-01 00:00:00" }, "f.json#/published"],
    [
      "package without name",
      { ...base, affected: [{ package: { ecosystem: "npm" } }] },
      "f.json#/affected/0/package/name",
    ],
    [
      "event with two keys",
      ranged({ type: "SEMVER", events: [{ introduced: "0" }, { introduced: "1.0.0", fixed: "1.0.2" }] }),
      "f.json#/affected/0/ranges/0/events/1",
    ],
    ["empty event", ranged({ type: "SEMVER", events: [{}] }), "f.json#/affected/0/ranges/0/events/0"],
    ["SEMVER without events", ranged({ type: "SEMVER" }), "f.json#/affected/0/ranges/0/events"],
    ["empty events", ranged({ type: "ECOSYSTEM", events: [] }), "f.json#/affected/0/ranges/0/events"],
    [
      "no introduced",
      ranged({ type: "SEMVER", events: [{ fixed: "1.0.0" }] }),
      "f.json#/affected/0/ranges/0/events",
    ],
    [
      "unknown range type",
      ranged({ type: "RPM", events: [{ introduced: "0" }] }),
      "f.json#/affected/0/ranges/0/type",
    ],
    [
      "GIT without repo",
      ranged({ type: "GIT", events: [{ introduced: "0" }] }),
      "f.json#/affected/0/ranges/0/repo",
    ],
    [
      "fixed and last_affected together",
      ranged({
        type: "SEMVER",
        events: [{ introduced: "0" }, { fixed: "1.0.0" }, { last_affected: "2.0.0" }],
      }),
      "f.json#/affected/0/ranges/0/events/2",
    ],
    [
      "unknown severity type",
      { ...base, severity: [{ type: "CVSS_V5", score: "x" }] },
      "f.json#/severity/0/type",
    ],
    [
      "severity at both levels",
      {
        ...base,
        severity: [{ type: "Ubuntu", score: "low" }],
        affected: [{ package: pkg, severity: [{ type: "Ubuntu", score: "low" }] }],
      },
      "f.json#/affected/0/severity",
    ],
    ["reference without url", { ...base, references: [{ type: "WEB" }] }, "f.json#/references/0/url"],
    ["not an object", "GHSA-x", "f.json"],
  ])("%s → %s", (_, value, where) => {
    const err = validationErrorOf(() => parseOsvRecord(value, { file: "f.json" }));
    expect(err.code).toBe("validation");
    expect(err.where).toBe(where);
  });

  it("prefixes the pointer of a record inside an array", () => {
    const err = validationErrorOf(() =>
      parseOsvRecord({ id: "X-1" }, { file: "all.json", pointerBase: "/4" }),
    );
    expect(err.where).toBe("all.json#/4/modified");
  });
});
