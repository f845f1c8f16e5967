import { describe, expect, it } from "vitest";
import { inventoryReportSchema } from "../agent/protocol.js";
import { findInputProblem } from "../domain/input-shape.js";
import { readInventoryReportFast } from "./report-body.js";

const pkg = {
  ecosystem: "Debian:12",
  name: "openssl",
  version: "3.0.11-1~deb12u2",
  sourceName: "openssl",
  sourceVersion: "3.0.11-1~deb12u2",
  arch: "amd64",
  purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
};

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
    for (const value of ["", "x".repeat(max), "x".repeat(max + 1), null, 7, true, ["x"], "a\ud800b", "😀"]) {
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
    for (const body of cases()) {
      const fast = readInventoryReportFast(body);
      const guard = findInputProblem(body);
      const zod = inventoryReportSchema.safeParse(body);
      if (fast !== undefined) {
        expect(guard, JSON.stringify(body)).toBeNull();
        expect(zod.success, JSON.stringify(body)).toBe(true);
        expect(fast).toStrictEqual(zod.data);
        expect(Object.keys(fast.packages[0] ?? {})).toEqual(Object.keys(zod.data?.packages[0] ?? {}));
      } else if (guard === null && zod.success) {
        // Only bodies with keys the schema does not name are left to the usual path when valid.
        expect(JSON.stringify(body)).toMatch(/extra/);
      }
    }
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
