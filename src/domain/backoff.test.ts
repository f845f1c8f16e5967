import { describe, expect, it } from "vitest";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelayMs } from "./backoff.js";

const top = () => 0.999_999_999;

describe("backoffDelayMs", () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [4, 40_000],
    [10, 2_560_000],
    [11, BACKOFF_CAP_MS],
    [12, BACKOFF_CAP_MS],
    [500, BACKOFF_CAP_MS],
  ])("after %i failures waits at most %i ms", (failures, ceiling) => {
    expect(backoffDelayMs(failures, top)).toBe(ceiling - 1);
    expect(backoffDelayMs(failures, () => 0.5)).toBe(Math.floor(ceiling / 2));
    expect(backoffDelayMs(failures, () => 0)).toBe(0);
  });

  it("draws uniformly below the ceiling (full jitter)", () => {
    const draws = Array.from({ length: 2000 }, () => backoffDelayMs(3));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(4 * BACKOFF_BASE_MS);
    // Spread across the range, not bunched at the ceiling.
    expect(draws.filter((d) => d < 2 * BACKOFF_BASE_MS).length).toBeGreaterThan(700);
    expect(draws.filter((d) => d >= 2 * BACKOFF_BASE_MS).length).toBeGreaterThan(700);
  });

  it("treats a first or nonsensical count as the first failure and clamps a faulty random source", () => {
    expect(backoffDelayMs(0, top)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffDelayMs(-3, top)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffDelayMs(1, () => 7)).toBe(BACKOFF_BASE_MS);
    expect(backoffDelayMs(1, () => -1)).toBe(0);
  });

  it("takes another base and cap", () => {
    expect(backoffDelayMs(4, top, 100, 500)).toBe(499);
    expect(backoffDelayMs(2, top, 100, 500)).toBe(199);
  });
});
