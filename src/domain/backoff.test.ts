import { describe, expect, it } from "vitest";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelayMs, retry } from "./backoff.js";

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

describe("retry", () => {
  const fast = { baseMs: 1, capMs: 2 };

  it("retries what may be retried until it succeeds, waiting between attempts", async () => {
    const seen: number[] = [];
    const result = await retry(
      async (n) => {
        seen.push(n);
        if (n < 3) throw new Error("busy");
        return "done";
      },
      { ...fast, attempts: 5, retryable: () => true },
    );
    expect(result).toBe("done");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("throws at once what may not be retried, and the last failure after its attempts", async () => {
    let calls = 0;
    const refused = retry(
      async () => {
        calls += 1;
        throw new Error("no");
      },
      { ...fast, attempts: 5, retryable: (err) => (err as Error).message !== "no" },
    );
    await expect(refused).rejects.toThrow("no");
    expect(calls).toBe(1);
    const delays: number[] = [];
    const exhausted = retry(
      async (n) => {
        throw new Error(`attempt ${n}`);
      },
      { ...fast, attempts: 3, retryable: () => true, onRetry: (_e, _n, delay) => delays.push(delay) },
    );
    await expect(exhausted).rejects.toThrow("attempt 3");
    expect(delays).toHaveLength(2);
    for (const d of delays) expect(d).toBeLessThan(2);
  });

  it("stops waiting when its signal ends", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = retry(
      async () => {
        throw new Error("down");
      },
      {
        baseMs: 60_000,
        capMs: 60_000,
        random: () => 0.99,
        attempts: 10,
        retryable: () => true,
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toThrow("down");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
