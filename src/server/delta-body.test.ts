import { describe, expect, it } from "vitest";
import { expectReaderAgrees, FULL_PACKAGE as pkg, valuesAround } from "../../test/helpers/body-readers.js";
import { inventoryDeltaSchema } from "../agent/protocol.js";
import { readInventoryDeltaFast } from "./delta-body.js";

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
    for (const value of valuesAround(200)) {
      out.push({ ...ok, [key]: value });
    }
  }
  const limits: Record<string, number> = { ecosystem: 100, name: 500, version: 200, arch: 50 };
  for (const [key, max] of Object.entries(limits)) {
    for (const value of valuesAround(max)) {
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
    const read = expectReaderAgrees(cases(), readInventoryDeltaFast, inventoryDeltaSchema, {
      unnamed: /extra|purl/,
      keyed: [(v) => v, (v) => v.removed.at(-1)],
    });
    expect(read).toBeGreaterThan(10);
  });

  it("refuses more records than the schema's maximum", () => {
    const body = { ...ok, removed: new Array(200_001).fill(gone) };
    expect(readInventoryDeltaFast(body)).toBeUndefined();
    expect(inventoryDeltaSchema.safeParse(body).success).toBe(false);
  });
});
