import { describe, expect, it } from "vitest";
import { parseExpiry } from "./expiry.js";

const now = new Date("2026-11-20T10:00:00Z");

describe("parseExpiry", () => {
  it.each([
    ["30d", "2026-12-20T10:00:00.000Z"],
    ["12h", "2026-11-20T22:00:00.000Z"],
    ["1d12h", "2026-11-21T22:00:00.000Z"],
    ["2027-01-31", "2027-01-31T00:00:00.000Z"],
    ["2027-01-31T12:30:00Z", "2027-01-31T12:30:00.000Z"],
    ["2027-01-31T12:30:00+01:00", "2027-01-31T11:30:00.000Z"],
    ["2027-11-20T10:00:00Z", "2027-11-20T10:00:00.000Z"],
    ["365d", "2027-11-20T10:00:00.000Z"],
  ])("%s → %s", (text, iso) => {
    expect(parseExpiry(text, now).toISOString()).toBe(iso);
  });

  it.each([
    ["next week", "neither an ISO 8601 time"],
    ["", "neither an ISO 8601 time"],
    ["0", "not in the future"],
    ["2026-11-20T09:59:59Z", "not in the future"],
    ["2027-11-20T10:00:01Z", "at most one year"],
    ["400d", "at most one year"],
  ])("rejects %j (%s) naming where", (text, message) => {
    expect(() => parseExpiry(text, now, "--expires")).toThrow(message);
    try {
      parseExpiry(text, now, "--expires");
    } catch (err) {
      expect(err).toMatchObject({ code: "validation", where: "--expires" });
    }
  });
});
