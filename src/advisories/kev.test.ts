import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validationErrorOf } from "../../test/helpers/errors.js";
import { parseKevCatalog, parseKevDocument } from "./kev.js";

const DATA = fileURLToPath(new URL("../../test/fixtures/data/", import.meta.url));
const CATALOG = readFileSync(`${DATA}kev/known_exploited_vulnerabilities.json`, "utf8");

const entry = {
  cveID: "CVE-2021-44228",
  vendorProject: "Apache",
  product: "Log4j2",
  vulnerabilityName: "Apache Log4j2 Remote Code Execution Vulnerability",
  dateAdded: "2021-12-10",
  shortDescription: "…",
  requiredAction: "Apply updates per vendor instructions.",
  dueDate: "2021-12-24",
  knownRansomwareCampaignUse: "Known",
};
const catalog = (vulnerabilities: unknown[]) =>
  JSON.stringify({
    catalogVersion: "1",
    dateReleased: "2025-01-01T00:00:00Z",
    count: vulnerabilities.length,
    vulnerabilities,
  });

describe("parseKevCatalog", () => {
  it("reads CISA's catalog 2025.08.25: 1,404 entries, 293 with known ransomware use", () => {
    const entries = parseKevCatalog(CATALOG, "kev.json");
    expect(entries).toHaveLength(1404);
    expect(entries.filter((e) => e.knownRansomwareCampaignUse === "Known")).toHaveLength(293);
    expect(entries[0]).toMatchObject({
      cveID: "CVE-2025-48384",
      vendorProject: "Git",
      dateAdded: "2025-08-25",
      dueDate: "2025-09-15",
    });
    expect(new Set(entries.map((e) => e.cveID)).size).toBe(1404);
    const doc = parseKevDocument(CATALOG);
    expect(doc.catalogVersion).toBe("2025.08.25");
    expect(doc.count).toBe(1404);
  });

  it.each<[string, string, string]>([
    ["bad CVE id", catalog([entry, { ...entry, cveID: "CVE-21-1" }]), "kev.json#/vulnerabilities/1/cveID"],
    ["bad date", catalog([{ ...entry, dueDate: "24/12/2021" }]), "kev.json#/vulnerabilities/0/dueDate"],
    ["missing field", catalog([{ ...entry, product: undefined }]), "kev.json#/vulnerabilities/0/product"],
    [
      "no vulnerabilities",
      JSON.stringify({ catalogVersion: "1", dateReleased: "x", count: 0 }),
      "kev.json#/vulnerabilities",
    ],
    ["invalid JSON", '{\n  "catalogVersion": 1,\n  oops\n}', "kev.json:3:3"],
  ])("%s → %s", (_, text, where) => {
    expect(validationErrorOf(() => parseKevCatalog(text, "kev.json")).where).toBe(where);
  });
});
