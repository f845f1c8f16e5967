import { describe, expect, it } from "vitest";
import { jitteredDelay } from "./jitter.js";

describe("jitteredDelay", () => {
  it.each([
    // interval, jitter, random draw, wait
    [1000, 0.1, 0, 900],
    [1000, 0.1, 0.5, 1000],
    [1000, 0.1, 1, 1100],
    [1000, 0, 0.9, 1000],
    [200, 0.25, 0.75, 225],
    // Out-of-range inputs are clamped rather than producing negative or doubled waits.
    [1000, 3, 0, 0],
    [1000, -1, 1, 1000],
    [1000, 0.1, 7, 1100],
    [0, 0.1, 1, 0],
  ])("interval %d ms, jitter %d, draw %d → %d ms", (interval, jitter, draw, wait) => {
    expect(jitteredDelay(interval, jitter, () => draw)).toBe(wait);
  });

  it("stays within the interval's band over many draws", () => {
    for (let i = 0; i < 1000; i++) {
      const wait = jitteredDelay(5000);
      expect(wait).toBeGreaterThanOrEqual(4500);
      expect(wait).toBeLessThanOrEqual(5500);
    }
  });
});
