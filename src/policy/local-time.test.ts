import { describe, expect, it } from "vitest";
import { formatInZone, localToInstant, parseLocalDateTime, shiftLocalDays } from "./local-time.js";

const local = (text: string) => {
  const fields = parseLocalDateTime(text);
  if (!fields) throw new Error(`bad test input ${text}`);
  return fields;
};

describe("localToInstant", () => {
  it.each([
    // ordinary times
    ["2026-11-28T01:00", "Europe/Berlin", "2026-11-28T00:00:00.000Z"],
    ["2026-07-01T12:00", "America/New_York", "2026-07-01T16:00:00.000Z"],
    // spring-forward gap: the first instant after the gap (03:00 local)
    ["2026-03-29T02:30", "Europe/Berlin", "2026-03-29T01:00:00.000Z"],
    ["2026-03-08T02:30", "America/New_York", "2026-03-08T07:00:00.000Z"],
    // fall back: the earlier of the two instants
    ["2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30:00.000Z"],
    ["2026-11-01T01:30", "America/New_York", "2026-11-01T05:30:00.000Z"],
  ])("%s in %s", (text, zone, iso) => {
    expect(localToInstant(local(text), zone).toISOString()).toBe(iso);
  });
});

describe("parseLocalDateTime", () => {
  it.each(["2026-02-30T10:00", "2026-12-27T25:00", "2026-12-27T22:00Z", "27.12.2026"])(
    "rejects %s",
    (text) => {
      expect(parseLocalDateTime(text)).toBeUndefined();
    },
  );

  it("reads a date alone as midnight", () => {
    expect(parseLocalDateTime("2026-12-20")).toEqual({
      year: 2026,
      month: 12,
      day: 20,
      hour: 0,
      minute: 0,
      second: 0,
    });
  });
});

describe("shiftLocalDays", () => {
  it("keeps the wall time across a DST change", () => {
    const tuesday = localToInstant(local("2026-03-03T22:00"), "America/New_York");
    expect(formatInZone(shiftLocalDays(tuesday, "America/New_York", 6), "America/New_York")).toBe(
      "2026-03-09T22:00:00-04:00",
    );
  });
});

describe("formatInZone", () => {
  it.each([
    ["2026-11-28T00:00:00Z", "Europe/Berlin", "2026-11-28T01:00:00+01:00"],
    ["2026-07-01T16:00:00Z", "America/New_York", "2026-07-01T12:00:00-04:00"],
    ["2026-12-27T22:00:00Z", "UTC", "2026-12-27T22:00:00Z"],
  ])("%s in %s", (iso, zone, text) => {
    expect(formatInZone(new Date(iso), zone)).toBe(text);
  });
});
