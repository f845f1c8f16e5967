import { describe, expect, it } from "vitest";
import { checkKevReplacement, compareCatalogVersions } from "./kev-guard.js";

describe("compareCatalogVersions", () => {
  it.each([
    ["2025.08.25", "2025.08.01", 1],
    ["2025.08.25", "2025.8.25", 0],
    ["2025.10.01", "2025.9.30", 1],
    ["2024.12.31", "2025.01.01", -1],
    ["2025.08.25", "2025.08.25.1", -1],
  ])("%s vs %s", (a, b, order) => {
    expect(Math.sign(compareCatalogVersions(a, b))).toBe(order);
  });
});

describe("checkKevReplacement", () => {
  const base = {
    incomingVersion: "2025.08.25",
    storedVersion: "2025.08.25",
    stored: 1404,
    removed: 0,
    force: false,
  };

  it.each([
    [{}, null],
    [{ storedVersion: null, stored: 0 }, null],
    [{ incomingVersion: "2025.08.01" }, "kev.older-catalog"],
    [{ incomingVersion: "2025.08.01", force: true }, null],
    [{ removed: 50 }, null],
    [{ removed: 51 }, "kev.mass-removal"],
    [{ stored: 100, removed: 10 }, null],
    [{ stored: 100, removed: 11 }, "kev.mass-removal"],
    [{ removed: 1404 }, "kev.mass-removal"],
    [{ removed: 1404, force: true }, null],
  ])("%j → %s", (change, reason) => {
    const run = () => checkKevReplacement({ ...base, ...change });
    if (reason === null) expect(run).not.toThrow();
    else expect(run).toThrow(expect.objectContaining({ reason, code: "conflict" }));
  });
});
