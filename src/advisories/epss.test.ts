import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validationErrorOf } from "../../test/helpers/errors.js";
import { parseEpssCsv } from "./epss.js";

const DATA = fileURLToPath(new URL("../../test/fixtures/data/", import.meta.url));

// The layout of FIRST's daily epss_scores-YYYY-MM-DD.csv; the scores here are made up.
const FIRST_STYLE = [
  "#model_version:v2025.03.14,score_date:2025-08-26T12:55:00Z",
  "cve,epss,percentile",
  "CVE-1999-0001,0.01352,0.79478",
  "CVE-2021-44228,0.94358,0.99988",
  "",
].join("\n");

describe("parseEpssCsv", () => {
  it("reads FIRST's daily file with its model version and score date", () => {
    expect(parseEpssCsv(FIRST_STYLE, "epss.csv")).toEqual([
      {
        cve: "CVE-1999-0001",
        epss: 0.01352,
        percentile: 0.79478,
        modelVersion: "v2025.03.14",
        scoreDate: "2025-08-26T12:55:00Z",
      },
      {
        cve: "CVE-2021-44228",
        epss: 0.94358,
        percentile: 0.99988,
        modelVersion: "v2025.03.14",
        scoreDate: "2025-08-26T12:55:00Z",
      },
    ]);
  });

  it.each<[string, number, number]>([
    ["kev_epss_cvss_2025-08-26.csv", 1404, 3],
    ["kev_epss_cvss_2026-08-22.csv", 1556, -1],
  ])("reads %s: %i rows (%i without CVSS3)", (name, rows, withoutCvss) => {
    const entries = parseEpssCsv(readFileSync(`${DATA}epss/${name}`, "utf8"), name);
    expect(entries).toHaveLength(rows);
    if (withoutCvss >= 0) expect(entries.filter((e) => e.cvss3 === undefined)).toHaveLength(withoutCvss);
    expect(entries.every((e) => e.epss >= 0 && e.epss <= 1 && e.percentile >= 0 && e.percentile <= 1)).toBe(
      true,
    );
  });

  it("reads the KEV_EPSS columns, quoted fields included", () => {
    const [first, , third, fourth] = parseEpssCsv(
      readFileSync(`${DATA}epss/kev_epss_cvss_2025-08-26.csv`, "utf8"),
      "kev.csv",
    );
    expect(first).toEqual({ cve: "CVE-2025-48384", cvss3: 8, epss: 0.0002, percentile: 0.03444 });
    expect(third).toEqual({ cve: "CVE-2024-8069", epss: 0.53593, percentile: 0.97895 });
    expect(fourth?.cve).toBe("CVE-2025-43300");
  });

  it.each<[string, string, string]>([
    ["bad CVE id", "cve,epss,percentile\nCVE-1,0.1,0.2\n", "e.csv:2"],
    ["probability above 1", "cve,epss,percentile\nCVE-2020-0001,0.1,0.2\nCVE-2020-0002,1.5,0.2\n", "e.csv:3"],
    [
      "negative percentile",
      "#model_version:v1,score_date:x\ncve,epss,percentile\nCVE-2020-0001,0.1,-0.2\n",
      "e.csv:3",
    ],
    ["not a number", "cve,epss,percentile\nCVE-2020-0001,high,0.2\n", "e.csv:2"],
    [
      "after a multi-line quoted field",
      'CVE,CVSS3,EPSS,EPSS Percentile,Description\nCVE-2020-0001,9.8,0.1,0.2,"two\nlines"\nCVE-2020-0002,11,0.1,0.2,x\n',
      "e.csv:4",
    ],
    ["missing column", "cve,epss\nCVE-2020-0001,0.1\n", "e.csv:1"],
  ])("%s → %s", (_, text, where) => {
    expect(validationErrorOf(() => parseEpssCsv(text, "e.csv")).where).toBe(where);
  });
});
