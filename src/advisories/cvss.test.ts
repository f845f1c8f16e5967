import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../domain/errors.js";
import { cvssBaseScore, cvssSeverity, severityOfRecord } from "./cvss.js";
import { parseOsvRecord } from "./osv/schema.js";

const DATA = fileURLToPath(new URL("../../test/fixtures/data/", import.meta.url));

/** `<vector> - (<base>, …)` or `<vector> - <score>` lines of RedHatProductSecurity/cvss tests/vectors_*. */
function redHatVectors(name: string): Array<{ line: number; vector: string; base: number }> {
  return readFileSync(`${DATA}testvectors/cvss-redhat/${name}`, "utf8")
    .split("\n")
    .flatMap((text, i) => {
      const m = /^(\S+) - \(?([\d.]+)/.exec(text.trim());
      return m?.[1] !== undefined && m[2] !== undefined
        ? [{ line: i + 1, vector: m[1], base: Number(m[2]) }]
        : [];
    });
}

describe("cvssBaseScore against the Red Hat CVSS test vectors", () => {
  it.each<[string, string, number]>([
    ["vectors_simple3.txt", "3.0", 2592],
    ["vectors_simple31.txt", "3.1", 2592],
    ["vectors_simple4.txt", "4.0", 1058],
  ])("%s: every line agrees (CVSS %s, %i lines)", (name, version, lines) => {
    const vectors = redHatVectors(name);
    expect(vectors).toHaveLength(lines);
    const disagreements = vectors
      .map((v) => ({ ...v, got: cvssBaseScore(v.vector) }))
      .filter((v) => v.got.score !== v.base || v.got.version !== version)
      .map((v) => `${name}:${v.line} ${v.vector} expected ${v.base} got ${v.got.score}`);
    expect(disagreements).toEqual([]);
  });
});

describe("cvssBaseScore", () => {
  it.each<[string, string, number, string]>([
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 9.8, "critical"],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", "3.1", 7.2, "high"],
    ["CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.0", 8.1, "high"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0, "none"],
    // Temporal and environmental metrics do not change the base score.
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/MAV:P", "3.1", 9.8, "critical"],
    ["AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5, "high"],
    ["AV:N/AC:M/Au:N/C:N/I:P/A:N", "2.0", 4.3, "medium"],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3, "critical"],
    // CVSS-B: a threat metric is not part of the base score.
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", "4.0", 9.3, "critical"],
  ])("%s → %s %s %s", (vector, version, score, severity) => {
    expect(cvssBaseScore(vector)).toEqual({ version, score, severity });
  });

  it.each<[string, string]>([
    ["CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "A"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L", "A"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/FOO:B", "FOO"],
    ["CVSS:3.1/AV:N/AC:Q/PR:N/UI:N/S:U/C:H/I:H/A:H", "AC"],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:S/SI:N/SA:N", "SC"],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", "SA"],
    ["CVSS:5.0/AV:N", "CVSS"],
    ["AV:N/AC:L/Au:N/C:P/I:P/A:Z", "A"],
    ["garbage", "garbage"],
  ])("%s is rejected naming %s", (vector, metric) => {
    try {
      cvssBaseScore(vector);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).details?.metric).toBe(metric);
    }
  });

  it.each<[Parameters<typeof cvssSeverity>[0], number, string]>([
    ["3.1", 0.1, "low"],
    ["3.1", 3.9, "low"],
    ["3.1", 4, "medium"],
    ["3.1", 6.9, "medium"],
    ["3.1", 7, "high"],
    ["3.1", 8.9, "high"],
    ["3.1", 9, "critical"],
    ["4.0", 10, "critical"],
    ["2.0", 0, "low"],
    ["2.0", 10, "high"],
  ])("cvssSeverity(%s, %d) = %s", (version, score, severity) => {
    expect(cvssSeverity(version, score)).toBe(severity);
  });
});

describe("severityOfRecord", () => {
  const base = { id: "X-1", modified: "2024-01-01T00:00:00Z" };

  it("takes the highest base score over the top-level entries", () => {
    const r = parseOsvRecord(
      {
        ...base,
        severity: [
          { type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H" },
          { type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" },
        ],
      },
      { file: "x" },
    );
    expect(severityOfRecord(r)).toMatchObject({
      score: 9.3,
      version: "4.0",
      vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
      invalid: [],
    });
  });

  it("reads per-package entries, skips Ubuntu ratings and reports bad vectors", () => {
    const r = parseOsvRecord(
      {
        ...base,
        affected: [
          {
            package: { ecosystem: "npm", name: "a" },
            severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N" }],
          },
          {
            package: { ecosystem: "npm", name: "b" },
            severity: [{ type: "CVSS_V2", score: "AV:N/AC:M/Au:N/C:N/I:P/A:N" }],
          },
          {
            package: { ecosystem: "Ubuntu:22.04:LTS", name: "c" },
            severity: [{ type: "Ubuntu", score: "high" }],
          },
        ],
      },
      { file: "x" },
    );
    const s = severityOfRecord(r);
    expect(s).toMatchObject({ score: 4.3, version: "2.0" });
    expect(s.invalid).toHaveLength(1);
  });

  it("is null for a record without severity, and scores every real RUSTSEC vector", () => {
    expect(severityOfRecord(parseOsvRecord(base, { file: "x" }))).toMatchObject({
      score: null,
      vector: null,
    });
    const lines = readFileSync(`${DATA}osv/rustsec-crates.jsonl`, "utf8").split("\n").filter(Boolean);
    const scored = lines
      .map((l) => severityOfRecord(parseOsvRecord(JSON.parse(l), { file: "rustsec" })))
      .filter((s) => s.score !== null);
    expect(scored.every((s) => s.invalid.length === 0)).toBe(true);
    // 360 CVSS_V3 and 57 CVSS_V4 entries (SOURCES.md); some records carry both.
    expect(scored.length).toBeGreaterThanOrEqual(360);
  });
});
