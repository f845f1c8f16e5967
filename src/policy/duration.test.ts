import { describe, expect, it } from "vitest";
import { formatDuration, isDuration, parseAmount, parseDuration, resolveAmount } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1d12h", 129_600_000],
    ["1h30m", 5_400_000],
    ["0", 0],
    [0, 0],
  ] as const)("%s → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["4x", "", "h", "12h1d", "1.5h", "-1h", "2hours", "1d 12h"])("rejects %j", (text) => {
    expect(isDuration(text)).toBe(false);
    expect(() => parseDuration(text)).toThrow(/is not a duration \(use e\.g\. 30m, 4h, 2d\)/);
  });

  it.each([
    [0, "0"],
    [4 * 3_600_000, "4h"],
    [129_600_000, "1d12h"],
    [90_000, "1m30s"],
  ])("formats %d as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("parseAmount", () => {
  it.each([
    ["25%", { kind: "percent", value: 25 }],
    ["12.5%", { kind: "percent", value: 12.5 }],
    [10, { kind: "count", value: 10 }],
    ["10", { kind: "count", value: 10 }],
    [0, { kind: "count", value: 0 }],
  ] as const)("%j", (input, amount) => {
    expect(parseAmount(input)).toEqual(amount);
  });

  it.each(["25x", "101%", -1, 1.5, "role=canary"])("rejects %j", (input) => {
    expect(parseAmount(input)).toBeUndefined();
  });

  it("resolves against a pool, rounding percentages up", () => {
    expect(resolveAmount({ kind: "percent", value: 25 }, 10)).toBe(3);
    expect(resolveAmount({ kind: "count", value: 50 }, 10)).toBe(10);
  });
});
