import { describe, expect, it } from "vitest";
import { newFindingId } from "./finding-id.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("newFindingId", () => {
  it("is a UUID version 7 whose first 48 bits are the time in milliseconds", () => {
    const at = Date.parse("2026-11-20T10:00:00Z");
    const id = newFindingId(at + 1_000_000);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(at + 1_000_000);
  });

  it("strictly increases within one millisecond and across them", () => {
    const at = Date.now() + 10_000_000;
    const ids = [
      ...Array.from({ length: 5000 }, () => newFindingId(at)),
      ...Array.from({ length: 5 }, () => newFindingId(at + 1)),
    ];
    for (const id of ids) expect(id).toMatch(UUID_V7);
    for (let i = 1; i < ids.length; i++) expect((ids[i] ?? "") > (ids[i - 1] ?? "")).toBe(true);
  });

  it("never goes back when the clock does", () => {
    const later = newFindingId(Date.now() + 20_000_000);
    expect(newFindingId(Date.now()) > later).toBe(true);
  });
});
