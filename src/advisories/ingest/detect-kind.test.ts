import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type AdvisoryKind, detectAdvisoryKind } from "./detect-kind.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/", import.meta.url));
const read = (path: string) => readFileSync(`${DATA}${path}`, "utf8");

describe("detectAdvisoryKind", () => {
  it.each<[string, AdvisoryKind]>([
    ["kev/known_exploited_vulnerabilities.json", "kev"],
    ["epss/kev_epss_cvss_2025-08-26.csv", "epss"],
    ["epss/kev_epss_cvss_2026-08-22.csv", "epss"],
    ["osv/ubuntu-USN-2169-1.json", "osv"],
    ["osv/go-vulndb.jsonl", "osv"],
    ["osv/ghsa-sample-trimmed.jsonl", "osv"],
    ["testvectors/osv-schema-ghsa-conversion/withdrawn.osv.json", "osv"],
  ])("%s is %s", (path, kind) => {
    expect(detectAdvisoryKind(read(path))).toBe(kind);
  });

  it.each<[string, string, AdvisoryKind]>([
    [
      "FIRST's daily file, with its model line",
      "#model_version:v2025.03.14,score_date:2025-08-26T00:00:00+0000\ncve,epss,percentile\nCVE-1999-0001,0.0123,0.8\n",
      "epss",
    ],
    ["a byte order mark and CRLF", "\uFEFFCVE,EPSS,EPSS Percentile\r\nCVE-2024-1,0.1,0.2\r\n", "epss"],
    ["a CSV without an epss column", "cve,cvss3\nCVE-2024-1,9.8\n", "osv"],
    ["an OSV array", '[{"id":"X-1","modified":"2024-01-01T00:00:00Z"}]', "osv"],
    ["the start of a JSONL file", '{"id":"GO-1","modified":"2024-01-01T00:00:00Z"}\n{"id":"GO-2",', "osv"],
    ["a KEV catalog lacking its version", '{"vulnerabilities":[]}', "osv"],
    ["an empty file", "", "osv"],
  ])("%s", (_what, text, kind) => {
    expect(detectAdvisoryKind(text)).toBe(kind);
  });
});
