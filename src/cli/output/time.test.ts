import { describe, expect, it } from "vitest";
import { formatAge, formatSpan, formatTime } from "./time.js";

describe("formatTime", () => {
  it.each([
    ["2026-12-01T23:00:00.000Z", "Europe/Berlin", "2026-12-02T00:00:00+01:00"],
    ["2026-12-01T23:00:00.987Z", "Europe/Berlin", "2026-12-02T00:00:00+01:00"],
    ["2026-12-02T00:00:00+01:00", "Asia/Kolkata", "2026-12-02T04:30:00+05:30"],
    ["2026-07-01T12:00:00Z", "America/New_York", "2026-07-01T08:00:00-04:00"],
  ])("%s in %s is %s (one instant, one format, no milliseconds)", (iso, zone, shown) => {
    expect(formatTime(iso, { zone })).toBe(shown);
  });

  it("prints UTC with Z under --utc", () => {
    expect(formatTime("2026-12-02T00:00:00.500+01:00", { utc: true, zone: "Europe/Berlin" })).toBe(
      "2026-12-01T23:00:00Z",
    );
  });

  it.each([null, undefined, ""])("prints nothing for %s", (value) => {
    expect(formatTime(value)).toBe("");
  });

  it("prints text that is not an instant as given", () => {
    expect(formatTime("never")).toBe("never");
  });
});

describe("formatAge", () => {
  const now = new Date("2026-05-10T12:00:00Z");
  it.each([
    ["2026-05-07T11:00:00Z", "3d ago"],
    ["2026-05-10T14:00:00Z", "in 2h"],
    ["2026-05-10T11:15:00Z", "45m ago"],
    ["2026-05-10T12:00:30Z", "in 30s"],
    ["2026-05-09T00:00:00Z", "36h ago"],
    ["2026-05-10T12:00:00.400Z", "now"],
  ])("%s is %s", (iso, age) => {
    expect(formatAge(iso, now)).toBe(age);
  });

  it("spans read as kubectl's AGE column", () => {
    expect([formatSpan(500), formatSpan(59_000), formatSpan(3 * 86_400_000)]).toEqual(["0s", "59s", "3d"]);
  });
});
