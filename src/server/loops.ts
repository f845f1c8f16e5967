import type { AuditCheckpointer } from "../audit/checkpointer.js";
import { enqueueStartingSoon } from "../changes/reminders.js";
import { SYSTEM_ACTOR } from "../domain/roles.js";
import { markStaleAssets } from "../inventory/agents.js";
import { mergePackageLog, onPendingPairs } from "../inventory/package-log.js";
import { outboxLoop } from "../notify/worker.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service/context.js";
import { workLoop } from "../work/loop.js";
import { serverWorkRegistry } from "./work-kinds.js";

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;
/** How often scheduled changes are checked for their starting-soon notification. */
export const REMINDER_INTERVAL_MS = 15_000;

/** How often the inverted index's log is merged when no burst of reports wakes the merge sooner. */
export const PACKAGE_LOG_INTERVAL_MS = 2_000;

export interface ServerLoopOptions {
  checkpointer: AuditCheckpointer;
  /** How often the audit head is signed when it moved (at least 1 s). */
  checkpointIntervalMs?: number;
}

/**
 * The server's background loops besides the engine's (see engine-loops.ts), one registration each.
 * Fleet-wide sweeps run on one replica at a time; loops that claim their work, or that keep state of
 * their own process, run on every replica.
 */
export function registerServerLoops(
  scheduler: Scheduler,
  ctx: ServiceContext,
  options: ServerLoopOptions,
): void {
  const { checkpointer } = options;
  // Each replica signs into its own checkpoint log; the first pass at start signs the existing chain.
  scheduler.register({
    name: "audit-checkpoint",
    scope: "every-replica",
    intervalMs: Math.max(1000, options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS),
    timeoutMs: 5 * 60_000,
    initialDelayMs: 0,
    run: () => checkpointPass(ctx, checkpointer),
  });
  scheduler.register({
    name: "stale-sweep",
    scope: "one-replica",
    intervalMs: Math.max(1000, Math.floor(ctx.config.heartbeatIntervalMs / 2)),
    timeoutMs: 60_000,
    run: async () => {
      const marked = await markStaleAssets(ctx, SYSTEM_ACTOR);
      if (marked.length > 0) ctx.logger.warn({ assets: marked }, "assets marked stale");
    },
  });
  scheduler.register({
    name: "starting-soon",
    scope: "one-replica",
    intervalMs: REMINDER_INTERVAL_MS,
    timeoutMs: 60_000,
    run: async () => {
      const enqueued = await enqueueStartingSoon(ctx);
      if (enqueued > 0) ctx.logger.info({ enqueued }, "starting-soon notifications enqueued");
    },
  });
  // The inverted index's log (src/inventory/package-log.ts): merged at start, every few seconds, and
  // sooner when this process's reports appended many pairs. Batches claim their rows, so every replica.
  scheduler.register({
    name: "package-log-merge",
    scope: "every-replica",
    intervalMs: PACKAGE_LOG_INTERVAL_MS,
    timeoutMs: 5 * 60_000,
    initialDelayMs: 0,
    run: async (signal) => {
      const merged = await mergePackageLog(ctx.store, signal);
      if (merged > 0) ctx.logger.debug({ merged }, "package log merged");
    },
  });
  onPendingPairs(ctx.store, () => scheduler.wake("package-log-merge", 0));
  scheduler.register(outboxLoop(ctx));
  // Resumes the work owed by commits before a restart; with holdWork it stays owed (tests).
  if (ctx.config.holdWork !== true) scheduler.register(workLoop(ctx, serverWorkRegistry()).registration);
}

/** Signs the head when it moved; a broken chain is logged loudly and left unsigned. */
export async function checkpointPass(ctx: ServiceContext, checkpointer: AuditCheckpointer): Promise<void> {
  try {
    const signed = await checkpointer.checkpointIfMoved();
    if (signed) ctx.logger.debug({ seq: signed.checkpoint.seq }, "audit checkpoint written");
  } catch (err) {
    ctx.logger.error({ err }, "audit checkpoint refused: the chain does not extend the last checkpoint");
  }
}
