import type { LoopRegistration } from "../scheduler/loop.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service/context.js";

/** The engine's pace: how soon a stored intent (an operator's control, an operation's result) is acted on. */
export const DEFAULT_ENGINE_INTERVAL_MS = 1_000;
export const ENGINE_PASS_TIMEOUT_MS = 30_000;

/** One pass of each engine loop; a loop whose pass is absent is not registered. */
export interface EnginePasses {
  /** `rollout-starter`: gives each scheduled change whose schedule allows now its rollout. */
  startDue?: (signal: AbortSignal) => Promise<void>;
  /** `rollout-engine`: one level-triggered pass over the rollouts in a non-terminal state. */
  reconcile?: (signal: AbortSignal) => Promise<void>;
}

export interface EngineLoopOptions {
  /** Default 1 s; tests run the engine faster (about 200 ms). */
  intervalMs?: number;
  /** The passes to run; the engine's own (enginePasses) when absent. */
  passes?: EnginePasses;
}

/**
 * The engine's passes as the server runs them. `owner` is the scheduler's replica id: the name the
 * reconcile pass takes each rollout's lease under. Empty until the engine provides its passes; then:
 * `{ startDue: (signal) => startDueChanges(ctx, { signal }),
 *    reconcile: (signal) => reconcileOnce(ctx, { owner, signal }) }`.
 */
export function enginePasses(_ctx: ServiceContext, _owner: string): EnginePasses {
  return {};
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
  const intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_ENGINE_INTERVAL_MS);
  const loop = (name: string, run: LoopRegistration["run"]): LoopRegistration => ({
    name,
    scope: "every-replica",
    intervalMs,
    timeoutMs: ENGINE_PASS_TIMEOUT_MS,
    initialDelayMs: 0,
    run,
  });
  if (passes.startDue) scheduler.register(loop("rollout-starter", passes.startDue));
  if (passes.reconcile) scheduler.register(loop("rollout-engine", passes.reconcile));
}
