import type { LoopRegistration } from "../scheduler/loop.js";
import { Scheduler } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service/context.js";
import type { WorkRegistry } from "./registry.js";
import { WorkRunner } from "./runner.js";

export const WORK_LOOP = "work-drain";
/** A drain goes on while it gets work done; past this it ends after the item in flight, and the next pass goes on. */
export const WORK_PASS_TIMEOUT_MS = 5 * 60_000;

export interface WorkLoopOptions {
  /** Stops the loop when aborted, like `stop()`. */
  signal?: AbortSignal;
  /** Wait between drains: how soon work owed by another process (or retried after a backoff) starts. */
  pollMs?: number;
  /** How long fresh items are left to the process that owes them (see RunnerOptions.graceMs). */
  graceMs?: number;
}

/** An import does its owed work within moments of its commit; the loop waits this long to step in. */
export const DEFAULT_GRACE_MS = 5_000;

export interface WorkLoop {
  readonly owner: string;
  /** Ends the loop after the item in flight has committed or rolled back, so it holds no claims. */
  stop(): Promise<void>;
}

/**
 * The work queue's background loop, and the lease owner its runner claims items as. Level-triggered:
 * every pass reads what is owed from the store, so work recorded before a crash is done after the
 * restart. Every replica runs it: claims and row locks keep loops on one store apart.
 */
export function workLoop(
  ctx: ServiceContext,
  registry: WorkRegistry,
  options: WorkLoopOptions = {},
): { owner: string; registration: LoopRegistration } {
  const runner = new WorkRunner(ctx, registry.kinds, { graceMs: options.graceMs ?? DEFAULT_GRACE_MS });
  return {
    owner: runner.owner,
    registration: {
      name: WORK_LOOP,
      scope: "every-replica",
      intervalMs: Math.max(1, options.pollMs ?? 1_000),
      timeoutMs: WORK_PASS_TIMEOUT_MS,
      initialDelayMs: 0,
      // What is owed stays owed when a pass fails or is aborted; the next pass retries.
      run: async (signal) => {
        await runner.drain(signal);
      },
    },
  };
}

/** Drains owed work until stopped, on a scheduler of its own (the server registers `workLoop`). */
export function startWorkLoop(
  ctx: ServiceContext,
  registry: WorkRegistry,
  options: WorkLoopOptions = {},
): WorkLoop {
  const { owner, registration } = workLoop(ctx, registry, options);
  const scheduler = new Scheduler({ logger: ctx.logger });
  scheduler.register(registration);
  const stop = (): void => void scheduler.stop();
  if (options.signal?.aborted) stop();
  else {
    options.signal?.addEventListener("abort", stop, { once: true });
    scheduler.start();
  }
  return {
    owner,
    stop: async () => {
      options.signal?.removeEventListener("abort", stop);
      await scheduler.stop();
    },
  };
}
