import { describe, expect, it } from "vitest";
import type { AdvisoryRows } from "./advisory-rows.js";
import { decideOutcome, type RecordOutcome } from "./import-records.js";

const rows = (modified: string, record: string, withdrawn: string | null = null) =>
  ({ advisory: { modified, record, withdrawn } }) as AdvisoryRows;
const stored = (modified: string, record: string, withdrawn: string | null = null) => ({
  modified,
  record,
  withdrawn,
});

describe("decideOutcome", () => {
  it.each<[string, ReturnType<typeof stored> | undefined, AdvisoryRows, RecordOutcome]>([
    ["a new id", undefined, rows("2024-01-01T00:00:00Z", "a"), "added"],
    ["a new, withdrawn id", undefined, rows("2024-01-01T00:00:00Z", "a", "2024-02-01T00:00:00Z"), "retired"],
    ["the same content", stored("2024-01-01T00:00:00Z", "a"), rows("2024-01-01T00:00:00Z", "a"), "unchanged"],
    ["a newer copy", stored("2024-01-01T00:00:00Z", "a"), rows("2024-03-01T00:00:00Z", "b"), "updated"],
    [
      "same time, other content",
      stored("2024-01-01T00:00:00Z", "a"),
      rows("2024-01-01T00:00:00Z", "b"),
      "updated",
    ],
    ["an older copy", stored("2024-03-01T00:00:00Z", "b"), rows("2024-01-01T00:00:00Z", "a"), "unchanged"],
    // A fraction sorts before "Z" as text; the times are compared as times.
    [
      "a later time with a fraction",
      stored("2024-01-01T00:00:00Z", "a"),
      rows("2024-01-01T00:00:00.5Z", "b"),
      "updated",
    ],
    [
      "a withdrawal",
      stored("2024-01-01T00:00:00Z", "a"),
      rows("2024-03-01T00:00:00Z", "b", "2024-03-01T00:00:00Z"),
      "retired",
    ],
    [
      "a change to a withdrawn one",
      stored("2024-03-01T00:00:00Z", "b", "2024-03-01T00:00:00Z"),
      rows("2024-04-01T00:00:00Z", "c", "2024-03-01T00:00:00Z"),
      "updated",
    ],
  ])("%s → %s", (_what, before, incoming, outcome) => {
    expect(decideOutcome(before, incoming, new Date("2026-12-01T00:00:00Z"))).toBe(outcome);
  });

  it("lets a record replace a stored copy whose modified time is in the future", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    const pinned = stored("9999-12-31T00:00:00Z", "a");
    expect(decideOutcome(pinned, rows("2026-11-30T00:00:00Z", "b"), now)).toBe("updated");
    expect(decideOutcome(pinned, rows("2026-11-30T00:00:00Z", "a"), now)).toBe("unchanged");
    // Within the margin the stored time counts: a mirror a few hours ahead is not "in the future".
    const ahead = stored("2026-12-01T12:00:00Z", "a");
    expect(decideOutcome(ahead, rows("2026-11-30T00:00:00Z", "b"), now)).toBe("unchanged");
  });
});
