import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceContext } from "../service/context.js";
import { DEFAULT_BATCH, type DeliveryOptions, deliverDue } from "./deliver.js";

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
 * Delivers the outbox until stopped: a pass, then a pause unless the pass was full. Any number of
 * workers, in one process or on several replicas, may run on one store; claims keep them apart.
 */
export function startOutboxWorker(ctx: ServiceContext, options: OutboxWorkerOptions = {}): OutboxWorker {
  const pollMs = Math.max(1, options.pollMs ?? 1_000);
  const batch = Math.max(1, options.batch ?? DEFAULT_BATCH);
  const stopping = new AbortController();
  const stop = (): void => stopping.abort();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      let full = false;
      try {
        const pass = await deliverDue(ctx, ctx.now(), { ...options, batch });
        full = pass.delivered + pass.failed + pass.dead >= batch;
      } catch (err) {
        // The store may be briefly unreachable; the next pass tries again and nothing is lost.
        ctx.logger.error({ err }, "outbox pass failed");
      }
      if (full || stopping.signal.aborted) continue;
      await sleep(pollMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    stop: async () => {
      stop();
      options.signal?.removeEventListener("abort", stop);
      await loop;
    },
  };
}
