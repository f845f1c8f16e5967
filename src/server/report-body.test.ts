import { describe, expect, it } from "vitest";
import { expectReaderAgrees, FULL_PACKAGE as pkg, valuesAround } from "../../test/helpers/body-readers.js";
import { inventoryReportSchema } from "../agent/protocol.js";
import { readInventoryReportFast } from "./report-body.js";

/** Bodies around every limit and shape the schema and the input guard look at. */
function cases(): unknown[] {
  const out: unknown[] = [
    null,
    [],
    "x",
    {},
    { packages: [] },
    { packages: {} },
    { packages: [pkg], packagesFingerprint: "f" },
    { packages: [pkg], packagesFingerprint: "x".repeat(200) },
    { packages: [pkg], packagesFingerprint: "x".repeat(201) },
    { packages: [pkg], packagesFingerprint: null },
    { packages: [pkg], packagesFingerprint: "\ud800" },
    { packages: [pkg], extra: 1 },
    { packages: [pkg], "\ud800": 1 },
    { packages: [null] },
    { packages: [[pkg]] },
    { packages: [pkg, 3] },
    { packages: [{ ecosystem: "npm", name: "a", version: "1" }] },
    { packages: [{ ...pkg, extra: { deep: "\udc00" } }] },
    { packages: [{ ...pkg, extra: "fine" }] },
  ];
  const limits: Record<string, number> = {
    ecosystem: 100,
    name: 500,
    version: 200,
    sourceName: 500,
    sourceVersion: 200,
    arch: 50,
    purl: 2000,
  };
  for (const [key, max] of Object.entries(limits)) {
    for (const value of valuesAround(max)) {
      out.push({ packages: [pkg, { ...pkg, [key]: value }] });
    }
    const without: Record<string, unknown> = { ...pkg };
    delete without[key];
    out.push({ packages: [without] });
  }
  return out;
}

describe("readInventoryReportFast", () => {
  it("returns zod's value when it returns one, and only for bodies the guard and zod accept", () => {
    const read = expectReaderAgrees(cases(), readInventoryReportFast, inventoryReportSchema, {
      unnamed: /extra/,
      keyed: [(v) => v.packages[0]],
    });
    expect(read).toBeGreaterThan(3);
  });

  it("reads the hot shape: a full report of canonical records", () => {
    const body = { packages: Array.from({ length: 600 }, (_, i) => ({ ...pkg, name: `p${i}` })) };
    expect(readInventoryReportFast(body)).toStrictEqual(inventoryReportSchema.parse(body));
  });

  it("refuses more packages than the schema's maximum", () => {
    const body = { packages: new Array(200_001).fill(pkg) };
    expect(readInventoryReportFast(body)).toBeUndefined();
    expect(inventoryReportSchema.safeParse(body).success).toBe(false);
  });
});
