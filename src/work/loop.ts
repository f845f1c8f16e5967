import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceContext } from "../service/context.js";
import type { WorkRegistry } from "./registry.js";
import { WorkRunner } from "./runner.js";

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
 * Drains owed work until stopped. Level-triggered: every pass reads what is owed from the store, so
 * work recorded before a crash is done after the restart, and any number of loops, in one process or
 * on several replicas, may run on one store; claims and row locks keep them apart.
 */
export function startWorkLoop(
  ctx: ServiceContext,
  registry: WorkRegistry,
  options: WorkLoopOptions = {},
): WorkLoop {
  const pollMs = Math.max(1, options.pollMs ?? 1_000);
  const runner = new WorkRunner(ctx, registry.kinds, { graceMs: options.graceMs ?? DEFAULT_GRACE_MS });
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await runner.drain(stopping.signal);
      } catch (err) {
        // The store may be briefly unreachable; what is owed stays owed and the next pass retries.
        ctx.logger.error({ err }, "work pass failed");
      }
      if (stopping.signal.aborted) break;
      await sleep(pollMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    owner: runner.owner,
    stop: async () => {
      stop();
      options.signal?.removeEventListener("abort", stop);
      await loop;
    },
  };
}
