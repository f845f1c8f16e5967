import { describe, expect, it } from "vitest";
import { inventoryDeltaSchema } from "../agent/protocol.js";
import { findInputProblem } from "../domain/input-shape.js";
import { readInventoryDeltaFast } from "./delta-body.js";

const pkg = {
  ecosystem: "Debian:12",
  name: "openssl",
  version: "3.0.11-1~deb12u2",
  sourceName: "openssl",
  sourceVersion: "3.0.11-1~deb12u2",
  arch: "amd64",
  purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
};
const gone = { ecosystem: "Debian:12", name: "curl", version: "7.88.1-10", arch: "amd64" };
const ok = { base: "a".repeat(64), digest: "b".repeat(64), added: [pkg], removed: [gone] };

/** Bodies around every limit and shape the schema and the input guard look at. */
function cases(): unknown[] {
  const out: unknown[] = [
    null,
    [],
    "x",
    {},
    ok,
    { ...ok, added: [], removed: [] },
    { ...ok, extra: 1 },
    { ...ok, "\ud800": 1 },
    { base: ok.base, digest: ok.digest, added: [pkg] },
    { ...ok, added: {} },
    { ...ok, removed: [null] },
    { ...ok, removed: [[gone]] },
    { ...ok, added: [pkg, 3] },
    { ...ok, removed: [{ ecosystem: "npm", name: "a", version: "1" }] },
    { ...ok, removed: [{ ...gone, arch: null }] },
    { ...ok, removed: [{ ...gone, purl: "p" }] },
    { ...ok, removed: [{ ...gone, extra: { deep: "\udc00" } }] },
    { ...ok, added: [{ ...pkg, extra: "fine" }] },
  ];
  for (const key of ["base", "digest"]) {
    for (const value of ["", "x".repeat(200), "x".repeat(201), null, 7, ["x"], "a\ud800b", "😀"]) {
      out.push({ ...ok, [key]: value });
    }
  }
  const limits: Record<string, number> = { ecosystem: 100, name: 500, version: 200, arch: 50 };
  for (const [key, max] of Object.entries(limits)) {
    for (const value of ["", "x".repeat(max), "x".repeat(max + 1), null, 7, true, ["x"], "a\ud800b", "😀"]) {
      out.push({ ...ok, removed: [gone, { ...gone, [key]: value }] });
      out.push({ ...ok, added: [pkg, { ...pkg, [key]: value }] });
    }
    const without: Record<string, unknown> = { ...gone };
    delete without[key];
    out.push({ ...ok, removed: [without] });
  }
  return out;
}

describe("readInventoryDeltaFast", () => {
  it("returns zod's value when it returns one, and only for bodies the guard and zod accept", () => {
    let read = 0;
    for (const body of cases()) {
      const fast = readInventoryDeltaFast(body);
      const guard = findInputProblem(body);
      const zod = inventoryDeltaSchema.safeParse(body);
      if (fast !== undefined) {
        read += 1;
        expect(guard, JSON.stringify(body)).toBeNull();
        expect(zod.success, JSON.stringify(body)).toBe(true);
        expect(fast).toStrictEqual(zod.data);
        expect(Object.keys(fast)).toEqual(Object.keys(zod.data ?? {}));
        expect(Object.keys(fast.removed.at(-1) ?? {})).toEqual(Object.keys(zod.data?.removed.at(-1) ?? {}));
      } else if (guard === null && zod.success) {
        // Only bodies with keys the schema does not name are left to the usual path when valid.
        expect(JSON.stringify(body)).toMatch(/extra|purl/);
      }
    }
    expect(read).toBeGreaterThan(10);
  });

  it("refuses more records than the schema's maximum", () => {
    const body = { ...ok, removed: new Array(200_001).fill(gone) };
    expect(readInventoryDeltaFast(body)).toBeUndefined();
    expect(inventoryDeltaSchema.safeParse(body).success).toBe(false);
  });
});
