import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AppError } from "../domain/errors.js";
import type { LoopRegistration } from "./loop.js";
import { Scheduler } from "./scheduler.js";

interface LogLine {
  level: number;
  msg: string;
  loop?: string;
  err?: { message: string };
}

function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

/** Resolves when the signal aborts, as a pass that waits on something that never comes. */
const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

const loop = (overrides: Partial<LoopRegistration> & Pick<LoopRegistration, "run">): LoopRegistration => ({
  name: "test-loop",
  intervalMs: 5,
  timeoutMs: 1_000,
  scope: "every-replica",
  initialDelayMs: 0,
  ...overrides,
});

const schedulers: Scheduler[] = [];
function scheduler(options: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}): Scheduler {
  const s = new Scheduler({ logger: pino({ level: "silent" }), ...options });
  schedulers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

describe("Scheduler", () => {
  it("runs passes one after another, never two of one loop at once, and records them", async () => {
    let running = 0;
    let overlaps = 0;
    let passes = 0;
    const s = scheduler();
    s.register(
      loop({
        run: async () => {
          running += 1;
          if (running > 1) overlaps += 1;
          await sleep(15);
          running -= 1;
          passes += 1;
        },
      }),
    );
    s.start();
    await until("five passes", () => passes >= 5);
    await s.stop();
    expect(overlaps).toBe(0);
    const [metrics] = s.metrics();
    expect(metrics).toMatchObject({ name: "test-loop", lastOutcome: "ok", errors: 0, timeouts: 0 });
    expect(metrics?.passes).toBe(passes);
    expect(metrics?.lastDurationMs).toBeGreaterThanOrEqual(10);
    expect(metrics?.totalDurationMs).toBeGreaterThanOrEqual(10 * passes);
    expect(Date.parse(metrics?.lastFinishedAt ?? "")).toBeGreaterThanOrEqual(
      Date.parse(metrics?.lastStartedAt ?? ""),
    );
  });

  it("aborts a pass that hangs at its timeout, logs it, and goes on with the next pass", async () => {
    const { logger, lines } = capturingLogger();
    const durations: number[] = [];
    let calls = 0;
    const s = scheduler({ logger });
    s.register(
      loop({
        name: "hangs-once",
        timeoutMs: 80,
        run: async (signal) => {
          calls += 1;
          const began = Date.now();
          if (calls === 1) {
            await aborted(signal);
            durations.push(Date.now() - began);
            throw signal.reason;
          }
        },
      }),
    );
    s.start();
    await until("a second pass after the timeout", () => calls >= 2);
    expect(durations[0]).toBeGreaterThanOrEqual(75);
    expect(durations[0]).toBeLessThan(600);
    const warning = lines.find((l) => l.msg === "background pass exceeded its timeout; aborted");
    expect(warning).toMatchObject({ loop: "hangs-once" });
    // A pass that rethrows its abort reason counts as timed out, not as a failure.
    expect(s.metrics()[0]).toMatchObject({ timeouts: 1, errors: 0 });
    expect(lines.filter((l) => l.msg === "background pass failed")).toEqual([]);
  });

  it("passes the timeout as an AppError reason on the signal", async () => {
    let reason: unknown;
    const s = scheduler();
    s.register(
      loop({
        timeoutMs: 20,
        run: async (signal) => {
          await aborted(signal);
          reason = signal.reason;
        },
      }),
    );
    s.start();
    await until("aborted", () => reason !== undefined);
    expect(reason).toBeInstanceOf(AppError);
    expect((reason as AppError).reason).toBe("scheduler.pass-timeout");
    expect((reason as AppError).message).toContain("test-loop");
  });

  it("logs a failing pass with the loop's name and keeps the loop going", async () => {
    const { logger, lines } = capturingLogger();
    let calls = 0;
    const s = scheduler({ logger });
    s.register(
      loop({
        name: "flaky",
        run: async () => {
          calls += 1;
          if (calls <= 2) throw new Error(`boom ${calls}`);
        },
      }),
    );
    s.start();
    await until("a pass after two failures", () => calls >= 3 && s.metrics()[0]?.lastOutcome === "ok");
    const failures = lines.filter((l) => l.msg === "background pass failed");
    expect(failures.map((l) => [l.loop, l.err?.message])).toEqual([
      ["flaky", "boom 1"],
      ["flaky", "boom 2"],
    ]);
    expect(s.metrics()[0]).toMatchObject({ errors: 2, lastError: null });
  });

  it("stop() aborts the pass in flight and waits for it to end", async () => {
    let started = false;
    let cleanedUp = false;
    let handedBackAfterCleanUp: boolean | null = null;
    const s = scheduler();
    s.register(
      loop({
        timeoutMs: 60_000,
        onStop: async () => {
          handedBackAfterCleanUp = cleanedUp;
        },
        run: async (signal) => {
          started = true;
          await aborted(signal);
          // Work that must finish before shutdown (e.g. recording an outcome) after the abort.
          await sleep(80);
          cleanedUp = true;
        },
      }),
    );
    s.start();
    await until("the pass started", () => started);
    const began = Date.now();
    await s.stop();
    expect(cleanedUp).toBe(true);
    // The stop hook ran once the pass had ended.
    expect(handedBackAfterCleanUp).toBe(true);
    expect(Date.now() - began).toBeGreaterThanOrEqual(75);
    expect(s.metrics()[0]).toMatchObject({ running: false, timeouts: 0 });
  });

  it("starts no pass after stop()", async () => {
    let calls = 0;
    const s = scheduler();
    s.register(
      loop({
        run: async () => {
          calls += 1;
        },
      }),
    );
    s.start();
    await until("a pass", () => calls > 0);
    await s.stop();
    const after = calls;
    await sleep(50);
    expect(calls).toBe(after);
    expect(() => s.start()).toThrow(expect.objectContaining({ reason: "scheduler.stopped" }));
  });

  it("leaves behind, with a log line, a pass that ignores its abort past the stop grace", async () => {
    const { logger, lines } = capturingLogger();
    let release: () => void = () => undefined;
    let started = false;
    let stopHooks = 0;
    const s = scheduler({ logger, stopGraceMs: 50 });
    s.register(
      loop({
        name: "stubborn",
        onStop: async () => {
          stopHooks += 1;
        },
        run: () => {
          started = true;
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      }),
    );
    s.start();
    await until("the pass started", () => started);
    const began = Date.now();
    await s.stop();
    expect(Date.now() - began).toBeLessThan(1_000);
    expect(lines.find((l) => l.msg.includes("left behind at shutdown"))).toMatchObject({ loop: "stubborn" });
    // A pass that may still run keeps what it holds: its stop hook is skipped.
    expect(stopHooks).toBe(0);
    release();
  });

  it("runs loops independently: a slow one does not hold up a fast one", async () => {
    let fast = 0;
    const s = scheduler();
    s.register(loop({ name: "slow", timeoutMs: 10_000, run: (signal) => aborted(signal) }));
    s.register(
      loop({
        name: "fast",
        run: async () => {
          fast += 1;
        },
      }),
    );
    s.start();
    await until("the fast loop ran several passes", () => fast >= 5);
    expect(s.metrics().map((m) => [m.name, m.running])).toEqual([
      ["slow", true],
      ["fast", expect.any(Boolean)],
    ]);
  });

  it("waits a jittered interval between passes and before the first one by default", async () => {
    const starts: number[] = [];
    // Every draw is the lowest: waits are interval × (1 − jitter) = 60 ms.
    const s = scheduler({ jitter: 0.5, random: () => 0 });
    const { initialDelayMs: _, ...spec } = loop({
      intervalMs: 120,
      run: async () => {
        starts.push(Date.now());
      },
    });
    const began = Date.now();
    s.register(spec);
    s.start();
    await until("three passes", () => starts.length >= 3);
    const first = (starts[0] ?? 0) - began;
    expect(first).toBeGreaterThanOrEqual(55);
    expect(first).toBeLessThan(115);
    for (let i = 1; i < starts.length; i++) {
      const gap = (starts[i] ?? 0) - (starts[i - 1] ?? 0);
      expect(gap).toBeGreaterThanOrEqual(55);
      expect(gap).toBeLessThan(115);
    }
  });

  it("starts a loop registered on a running scheduler", async () => {
    let calls = 0;
    const s = scheduler();
    s.start();
    s.register(
      loop({
        run: async () => {
          calls += 1;
        },
      }),
    );
    await until("a pass", () => calls > 0);
  });

  it.each([
    ["a duplicate name", { name: "test-loop" }, "scheduler.duplicate-loop", "loop test-loop"],
    ["a zero interval", { name: "other", intervalMs: 0 }, "scheduler.invalid-loop", "loop other: intervalMs"],
    [
      "a NaN timeout",
      { name: "other", timeoutMs: Number.NaN },
      "scheduler.invalid-loop",
      "loop other: timeoutMs",
    ],
    [
      "a negative start",
      { name: "other", initialDelayMs: -1 },
      "scheduler.invalid-loop",
      "loop other: initialDelayMs",
    ],
    ["a bad name", { name: "Other Loop" }, "scheduler.invalid-loop", "loop Other Loop"],
    [
      "one-replica without a store",
      { name: "other", scope: "one-replica" },
      "scheduler.invalid-loop",
      "loop other: scope",
    ],
  ] as const)("refuses %s", (_, overrides, reason, where) => {
    const s = scheduler();
    s.register(loop({ run: async () => undefined }));
    expect(() => s.register(loop({ run: async () => undefined, ...overrides }))).toThrow(
      expect.objectContaining({ reason, where }),
    );
    expect(s.metrics().map((m) => m.name)).toEqual(["test-loop"]);
  });

  it("wake runs the next pass within the gap instead of after the interval, once for a burst", async () => {
    const starts: number[] = [];
    const s = scheduler({ jitter: 0 });
    s.register(loop({ intervalMs: 60_000, run: async () => void starts.push(performance.now()) }));
    s.start();
    await until("the first pass", () => starts.length === 1);
    await sleep(20);
    const woken = performance.now();
    for (let i = 0; i < 50; i++) s.wake("test-loop", 30);
    await until("the woken pass", () => starts.length === 2, 2_000);
    expect((starts[1] as number) - woken).toBeLessThan(1_000);
    // The burst gave one pass, and the interval holds again after it.
    await sleep(200);
    expect(starts).toHaveLength(2);
  });

  it("a wake during a pass gives one more pass right after it, and none for an unknown loop", async () => {
    let passes = 0;
    let release: () => void = () => undefined;
    const s = scheduler({ jitter: 0 });
    s.register(
      loop({
        intervalMs: 60_000,
        run: async () => {
          passes += 1;
          if (passes === 1) await new Promise<void>((resolve) => (release = resolve));
        },
      }),
    );
    s.start();
    await until("the first pass", () => passes === 1);
    s.wake("test-loop", 10);
    s.wake("no-such-loop", 10);
    release();
    await until("the pass after the wake", () => passes === 2, 2_000);
    await sleep(100);
    expect(passes).toBe(2);
  });
});
