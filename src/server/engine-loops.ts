import { reconcileOnce } from "../engine/reconcile.js";
import { onEngineWake, wakeEngine } from "../rollout/engine-wakeups.js";
import { releaseLeases } from "../rollout/leases.js";
import { startDueChanges } from "../rollout/starter.js";
import type { LoopRegistration } from "../scheduler/loop.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service/context.js";

export const ENGINE_PASS_TIMEOUT_MS = 30_000;

/** One pass of each engine loop; a loop whose pass is absent is not registered. */
export interface EnginePasses {
  /** `rollout-starter`: gives each scheduled change whose schedule allows now its rollout. */
  startDue?: (signal: AbortSignal) => Promise<void>;
  /** `rollout-engine`: one level-triggered pass over the rollouts in a non-terminal state. */
  reconcile?: (signal: AbortSignal) => Promise<void>;
  /** After the last `reconcile` pass ended on shutdown: hands back the rollout leases it holds. */
  handBack?: () => Promise<void>;
}

export interface EngineLoopOptions {
  /**
   * The engine's pace: how soon a stored intent (an operator's control, an operation's result) is
   * acted on. Default: the service's `enginePassMs` (1 s; tests run faster), which its leases follow.
   */
  intervalMs?: number;
  /** The passes to run; the engine's own (enginePasses) when absent. */
  passes?: EnginePasses;
}

/**
 * The engine's passes as the server runs them. `owner` is the scheduler's replica id: the name the
 * reconcile pass takes each rollout's lease under.
 */
export function enginePasses(ctx: ServiceContext, owner: string): EnginePasses {
  return {
    startDue: async () => {
      const report = await startDueChanges(ctx);
      if (report.started.length > 0) {
        ctx.logger.info({ rollouts: report.started }, "rollouts started");
        wakeEngine(ctx.store);
      }
    },
    reconcile: async (signal) => {
      await reconcileOnce(ctx, owner, { signal });
    },
    handBack: async () => {
      const released = await releaseLeases(ctx, owner);
      if (released.length > 0) ctx.logger.info({ rollouts: released }, "rollout leases handed back");
    },
  };
}

/**
 * Registers the rollout engine's loops. Both run on every replica: the starter creates a rollout
 * only if absent (unique per change), and the reconcile pass drives each rollout under that
 * rollout's own lease, so replicas share the rollouts instead of one replica driving them all.
 */
export function registerEngineLoops(
  scheduler: Scheduler,
  ctx: ServiceContext,
  options: EngineLoopOptions = {},
): void {
  const passes = options.passes ?? enginePasses(ctx, scheduler.replicaId);
  const intervalMs = Math.max(1, options.intervalMs ?? ctx.config.enginePassMs);
  const loop = (
    name: string,
    run: LoopRegistration["run"],
    onStop?: LoopRegistration["onStop"],
  ): LoopRegistration => ({
    name,
    scope: "every-replica",
    intervalMs,
    timeoutMs: ENGINE_PASS_TIMEOUT_MS,
    initialDelayMs: 0,
    run,
    ...(onStop === undefined ? {} : { onStop }),
  });
  if (passes.startDue) scheduler.register(loop("rollout-starter", passes.startDue));
  if (passes.reconcile) {
    // A clean shutdown hands the leases back once the last pass ended (a pass left running keeps them).
    scheduler.register(loop("rollout-engine", passes.reconcile, passes.handBack));
    // A host's result or a new rollout is acted on within the wake gap, not a whole interval later;
    // a stream of results still gives at most one pass per gap.
    const gapMs = Math.max(20, Math.floor(intervalMs / 10));
    onEngineWake(ctx.store, () => scheduler.wake("rollout-engine", gapMs));
  }
}
