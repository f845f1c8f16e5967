import type { Logger } from "pino";
import { reasonError } from "../domain/errors.js";
import type { Store } from "../store/store.js";
import { DEFAULT_JITTER, jitteredDelay } from "./jitter.js";
import { acquireLease, releaseLeases, renewLease } from "./lease.js";
import type { LoopRegistration } from "./loop.js";
import { emptyMetrics, type LoopMetrics, type PassOutcome } from "./metrics.js";
import { replicaId } from "./replica-id.js";

/** How long a one-replica lease outlives the holder's next due pass, unless the loop says otherwise. */
export const DEFAULT_LEASE_MS = 5_000;
/** How long `stop()` waits for aborted passes to end before it gives up on them. */
export const DEFAULT_STOP_GRACE_MS = 30_000;

export interface SchedulerOptions {
  logger: Logger;
  /** Where one-replica loops keep their leases; only loops of scope `every-replica` run without it. */
  store?: Store;
  /** This process's name in leases; a fresh replicaId() by default. */
  replicaId?: string;
  /** ±fraction of the interval by which waits vary (default 0.1). */
  jitter?: number;
  random?: () => number;
  /** The clock of lease expiries: the real one, as leases are about processes being alive. */
  clock?: () => Date;
  stopGraceMs?: number;
}

interface Loop {
  readonly spec: LoopRegistration;
  readonly leaseMs: number;
  readonly metrics: LoopMetrics;
  timer: NodeJS.Timeout | null;
  /** The pass in flight (lease taken, run, lease extended), settled when all of it ended. */
  inFlight: Promise<unknown> | null;
  controller: AbortController | null;
  holdsLease: boolean;
  /** A wake-up came during the pass in flight: the next pass follows after the wake gap only. */
  woken: boolean;
  wakeGapMs: number;
  lastEndedAt: number;
}

const validMs = (value: number, min: number): boolean => Number.isFinite(value) && value >= min;

/**
 * Runs the background loops of one process. A loop's passes never overlap: the next is due an
 * interval (jittered) after the previous one ended. A pass that outlives its timeout is aborted
 * through its signal and logged; a failing pass is logged with the loop's name and the loop goes on.
 * A one-replica loop runs a pass only under its lease, taken by compare-and-set in the store for the
 * pass's whole deadline and renewed while it runs, so replicas never run its passes at once.
 * `stop()` aborts the passes in flight and waits for them, runs the loops' stop hooks, then gives up
 * the leases it holds.
 */
export class Scheduler {
  readonly replicaId: string;
  readonly #logger: Logger;
  readonly #store: Store | undefined;
  readonly #jitter: number;
  readonly #random: () => number;
  readonly #clock: () => Date;
  readonly #stopGraceMs: number;
  readonly #loops = new Map<string, Loop>();
  #state: "idle" | "running" | "stopped" = "idle";
  #stopped: Promise<void> | null = null;

  constructor(options: SchedulerOptions) {
    this.#logger = options.logger;
    this.#store = options.store;
    this.replicaId = options.replicaId ?? replicaId();
    this.#jitter = options.jitter ?? DEFAULT_JITTER;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? (() => new Date());
    this.#stopGraceMs = Math.max(0, options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  }

  /** Adds a loop; registered on a running scheduler, it starts at once (after its initial delay). */
  register(spec: LoopRegistration): void {
    const where = `loop ${spec.name}`;
    if (this.#state === "stopped") {
      throw reasonError("scheduler.stopped", `the scheduler is stopped: ${where} cannot be registered`);
    }
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(spec.name)) {
      throw reasonError("scheduler.invalid-loop", "a loop name is lowercase letters, digits, dots, dashes", {
        where,
      });
    }
    if (this.#loops.has(spec.name)) {
      throw reasonError("scheduler.duplicate-loop", `a loop named ${spec.name} is registered already`, {
        where,
      });
    }
    const leaseMs = spec.leaseMs ?? DEFAULT_LEASE_MS;
    const bad = [
      validMs(spec.intervalMs, 1) ? null : "intervalMs",
      validMs(spec.timeoutMs, 1) ? null : "timeoutMs",
      validMs(leaseMs, 1) ? null : "leaseMs",
      spec.initialDelayMs === undefined || validMs(spec.initialDelayMs, 0) ? null : "initialDelayMs",
    ].find((field) => field !== null);
    if (bad) {
      throw reasonError("scheduler.invalid-loop", `${bad} must be a positive number of milliseconds`, {
        where: `${where}: ${bad}`,
      });
    }
    if (spec.scope === "one-replica" && this.#store === undefined) {
      throw reasonError("scheduler.invalid-loop", "a one-replica loop needs a store for its lease", {
        where: `${where}: scope`,
      });
    }
    const loop: Loop = {
      spec,
      leaseMs,
      metrics: emptyMetrics(spec.name, spec.scope, spec.intervalMs, spec.timeoutMs),
      timer: null,
      inFlight: null,
      controller: null,
      holdsLease: false,
      woken: false,
      wakeGapMs: 0,
      lastEndedAt: 0,
    };
    this.#loops.set(spec.name, loop);
    if (this.#state === "running") this.#schedule(loop, this.#firstDelay(loop));
  }

  /**
   * Asks for a loop's next pass soon instead of after its interval: at once when the last pass ended
   * at least `gapMs` ago, else when that gap is over; during a pass, right after it (plus the gap).
   * Many wake-ups in a row give one pass per gap, so a stream of events cannot spin the loop.
   */
  wake(name: string, gapMs: number): void {
    const loop = this.#loops.get(name);
    if (!loop || this.#state !== "running") return;
    loop.wakeGapMs = gapMs;
    if (loop.inFlight !== null) {
      loop.woken = true;
      return;
    }
    if (loop.timer === null) return;
    clearTimeout(loop.timer);
    const since = performance.now() - loop.lastEndedAt;
    this.#schedule(loop, Math.max(0, gapMs - since));
  }

  start(): void {
    if (this.#state === "stopped") throw reasonError("scheduler.stopped", "a stopped scheduler cannot start");
    if (this.#state === "running") return;
    this.#state = "running";
    for (const loop of this.#loops.values()) this.#schedule(loop, this.#firstDelay(loop));
  }

  /** Aborts the passes in flight, waits for them to end (up to the grace), and gives up its leases. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  /** A copy of every loop's figures, in registration order. */
  metrics(): LoopMetrics[] {
    return [...this.#loops.values()].map((loop) => ({ ...loop.metrics }));
  }

  async #stop(): Promise<void> {
    this.#state = "stopped";
    const loops = [...this.#loops.values()];
    for (const loop of loops) {
      if (loop.timer) clearTimeout(loop.timer);
      loop.timer = null;
      loop.controller?.abort(
        reasonError("scheduler.stopping", `the scheduler is stopping (${loop.spec.name})`),
      );
    }
    const inFlight = loops.filter((loop) => loop.inFlight !== null);
    let grace: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      grace = setTimeout(resolve, this.#stopGraceMs);
      grace.unref();
    });
    await Promise.race([Promise.all(inFlight.map((loop) => loop.inFlight)), graceOver]);
    clearTimeout(grace);
    const abandoned = inFlight.filter((loop) => loop.inFlight !== null);
    for (const loop of abandoned) {
      // Its lease is left to expire: the pass may still be running, so no other replica may start one yet.
      this.#logger.error(
        { loop: loop.spec.name, graceMs: this.#stopGraceMs },
        "background pass did not end after its abort; left behind at shutdown",
      );
    }
    for (const loop of loops) {
      if (loop.inFlight !== null || !loop.spec.onStop) continue;
      try {
        await loop.spec.onStop();
      } catch (err) {
        this.#logger.warn({ err, loop: loop.spec.name }, "a loop's stop hook failed");
      }
    }
    const held = loops
      .filter((loop) => loop.holdsLease && loop.inFlight === null)
      .map((loop) => loop.spec.name);
    if (this.#store && held.length > 0) {
      try {
        await releaseLeases(this.#store, this.replicaId, held);
      } catch (err) {
        this.#logger.warn({ err, loops: held }, "could not give up loop leases; they expire by themselves");
      }
    }
  }

  #firstDelay(loop: Loop): number {
    return loop.spec.initialDelayMs ?? this.#nextDelay(loop);
  }

  #nextDelay(loop: Loop): number {
    return jitteredDelay(loop.spec.intervalMs, this.#jitter, this.#random);
  }

  #schedule(loop: Loop, delayMs: number): void {
    loop.timer = setTimeout(() => {
      loop.timer = null;
      const pass = this.#pass(loop)
        .catch((err: unknown) => {
          // #pass handles its own failures; this only keeps a bug in it from ending the loop.
          this.#logger.error({ err, loop: loop.spec.name }, "background loop failed between passes");
          return this.#nextDelay(loop);
        })
        .then((nextDelay) => {
          loop.inFlight = null;
          loop.lastEndedAt = performance.now();
          const woken = loop.woken;
          loop.woken = false;
          if (this.#state === "running")
            this.#schedule(loop, woken ? Math.min(nextDelay, loop.wakeGapMs) : nextDelay);
        });
      loop.inFlight = pass;
    }, delayMs);
    // The loops never keep a process alive on their own; a server's listening socket does.
    loop.timer.unref();
  }

  /** One pass with its lease; resolves (never rejects) with the wait before the next one. */
  async #pass(loop: Loop): Promise<number> {
    const { spec } = loop;
    const startedAt = this.#clock();
    if (spec.scope === "one-replica") {
      const taken = await this.#takeLease(loop, startedAt);
      if (!taken) return this.#nextDelay(loop);
    }
    if (this.#state !== "running") return 0;

    const controller = new AbortController();
    loop.controller = controller;
    const deadline = startedAt.getTime() + spec.timeoutMs;
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      this.#logger.warn(
        { loop: spec.name, timeoutMs: spec.timeoutMs },
        "background pass exceeded its timeout; aborted",
      );
      controller.abort(
        reasonError(
          "scheduler.pass-timeout",
          `${spec.name} pass exceeded its timeout of ${spec.timeoutMs} ms`,
        ),
      );
    }, spec.timeoutMs);
    const renewal = spec.scope === "one-replica" ? this.#keepLease(loop, controller, deadline) : null;

    const { metrics } = loop;
    metrics.running = true;
    metrics.lastStartedAt = startedAt.toISOString();
    const began = performance.now();
    let outcome: PassOutcome = "ok";
    let failure: string | null = null;
    try {
      await spec.run(controller.signal);
      if (timedOut) outcome = "timeout";
    } catch (err) {
      if (timedOut) outcome = "timeout";
      else if (controller.signal.aborted) outcome = "aborted";
      else {
        outcome = "error";
        this.#logger.error({ err, loop: spec.name }, "background pass failed");
      }
      failure = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timeout);
      loop.controller = null;
      await renewal?.stop();
    }

    const durationMs = Math.round(performance.now() - began);
    metrics.running = false;
    metrics.passes += 1;
    metrics.totalDurationMs += durationMs;
    metrics.lastDurationMs = durationMs;
    metrics.lastFinishedAt = this.#clock().toISOString();
    metrics.lastOutcome = outcome;
    metrics.lastError = outcome === "ok" ? null : failure;
    if (outcome === "error") metrics.errors += 1;
    if (outcome === "timeout") metrics.timeouts += 1;

    const nextDelay = this.#nextDelay(loop);
    if (spec.scope === "one-replica" && this.#state === "running") {
      await this.#holdUntilNext(loop, nextDelay);
    }
    return nextDelay;
  }

  /** Takes or extends the lease for the whole pass; false when another replica holds it (or the store failed). */
  async #takeLease(loop: Loop, now: Date): Promise<boolean> {
    const store = this.#store;
    if (!store) return false;
    const { spec, metrics } = loop;
    try {
      loop.holdsLease = await acquireLease(store, {
        name: spec.name,
        owner: this.replicaId,
        now,
        until: new Date(now.getTime() + spec.timeoutMs + loop.leaseMs),
      });
    } catch (err) {
      loop.holdsLease = false;
      metrics.errors += 1;
      metrics.lastOutcome = "error";
      metrics.lastError = err instanceof Error ? err.message : String(err);
      this.#logger.error({ err, loop: spec.name }, "background loop could not take its lease; pass not run");
      return false;
    }
    metrics.holdsLease = loop.holdsLease;
    if (!loop.holdsLease) {
      metrics.skipped += 1;
      metrics.lastOutcome = "skipped";
    }
    return loop.holdsLease;
  }

  /**
   * Renews the lease while the pass runs, so that a pass that overruns its deadline (it ignores its
   * abort) still keeps other replicas off; a lease lost to another replica aborts the pass.
   */
  #keepLease(loop: Loop, controller: AbortController, deadline: number): { stop(): Promise<void> } {
    const store = this.#store;
    let pending: Promise<void> = Promise.resolve();
    const renew = async (): Promise<void> => {
      if (!store) return;
      const now = this.#clock();
      const until = new Date(Math.max(now.getTime(), deadline) + loop.leaseMs);
      try {
        const kept = await renewLease(store, { name: loop.spec.name, owner: this.replicaId, now, until });
        if (kept) return;
        loop.holdsLease = false;
        loop.metrics.holdsLease = false;
        this.#logger.error({ loop: loop.spec.name }, "background loop lost its lease mid-pass; aborted");
        controller.abort(
          reasonError("scheduler.lease-lost", `${loop.spec.name} lost its lease to another replica`),
        );
      } catch (err) {
        // The lease still holds until its expiry; the next renewal tries again.
        this.#logger.warn({ err, loop: loop.spec.name }, "could not renew a loop lease");
      }
    };
    const timer = setInterval(
      () => {
        pending = pending.then(renew);
      },
      Math.max(10, Math.floor(loop.leaseMs / 3)),
    );
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await pending;
      },
    };
  }

  /**
   * After a pass, the lease is set to run out `leaseMs` after the next pass is due: the holder keeps
   * the loop while it is alive, and another replica takes over soon after it is gone.
   */
  async #holdUntilNext(loop: Loop, nextDelay: number): Promise<void> {
    const store = this.#store;
    if (!store || !loop.holdsLease) return;
    const now = this.#clock();
    try {
      loop.holdsLease = await renewLease(store, {
        name: loop.spec.name,
        owner: this.replicaId,
        now,
        until: new Date(now.getTime() + nextDelay + loop.leaseMs),
      });
      loop.metrics.holdsLease = loop.holdsLease;
    } catch (err) {
      this.#logger.warn({ err, loop: loop.spec.name }, "could not extend a loop lease; it expires by itself");
    }
  }
}
