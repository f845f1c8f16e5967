import type { LoopRegistration } from "../scheduler/loop.js";
import { Scheduler } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service/context.js";
import { DEFAULT_BATCH, type DeliveryOptions, deliverDue } from "./deliver.js";

const OUTBOX_LOOP = "outbox";
/** Batches follow one another while full; past this the pass ends between batches and the next goes on. */
const OUTBOX_PASS_TIMEOUT_MS = 2 * 60_000;

export interface OutboxWorkerOptions extends DeliveryOptions {
  /** Stops the worker when aborted, like `stop()`. */
  signal?: AbortSignal;
  /** Wait between passes that found nothing more to do. */
  pollMs?: number;
}

export interface OutboxWorker {
  /** Ends the loop after the pass in flight (its posts finish or time out), so it leaves no claims. */
  stop(): Promise<void>;
}

/**
 * The outbox's background loop: a pass delivers what is due, batch after batch while batches are
 * full, then the loop waits `pollMs`. Every replica runs it: claims keep workers, in one process or
 * on several replicas, off each other's messages.
 */
export function outboxLoop(ctx: ServiceContext, options: OutboxWorkerOptions = {}): LoopRegistration {
  const batch = Math.max(1, options.batch ?? DEFAULT_BATCH);
  const { signal: _, pollMs, ...delivery } = options;
  return {
    name: OUTBOX_LOOP,
    scope: "every-replica",
    intervalMs: Math.max(1, pollMs ?? 1_000),
    timeoutMs: OUTBOX_PASS_TIMEOUT_MS,
    initialDelayMs: 0,
    run: async (signal) => {
      // Posts in flight are not cut short by an abort: each ends or times out, and its outcome is stored.
      while (!signal.aborted) {
        const pass = await deliverDue(ctx, ctx.now(), { ...delivery, batch });
        if (pass.delivered + pass.failed + pass.dead < batch) return;
      }
    },
  };
}

/** Delivers the outbox until stopped, on a scheduler of its own (the server registers `outboxLoop`). */
export function startOutboxWorker(ctx: ServiceContext, options: OutboxWorkerOptions = {}): OutboxWorker {
  const scheduler = new Scheduler({ logger: ctx.logger });
  scheduler.register(outboxLoop(ctx, options));
  const stop = (): void => void scheduler.stop();
  if (options.signal?.aborted) stop();
  else {
    options.signal?.addEventListener("abort", stop, { once: true });
    scheduler.start();
  }
  return {
    stop: async () => {
      options.signal?.removeEventListener("abort", stop);
      await scheduler.stop();
    },
  };
}
