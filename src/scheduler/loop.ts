/**
 * `one-replica`: at most one replica runs a pass at a time (a lease per loop in the store), for
 * fleet-wide sweeps whose repetition on every replica is wasted work. `every-replica`: each replica
 * runs its own passes, for loops whose passes claim their work (outbox, work queue) or keep
 * per-process state (each replica's audit checkpoint log).
 */
export type LoopScope = "one-replica" | "every-replica";

export interface LoopRegistration {
  /** Unique per scheduler; names the lease of a one-replica loop and every log line of the loop. */
  name: string;
  /** The wait between the end of a pass and the start of the next, jittered. */
  intervalMs: number;
  /** A pass still running after this long is aborted through its signal (and logged). */
  timeoutMs: number;
  scope: LoopScope;
  /** One pass. It should end soon after `signal` aborts (timeout, lost lease or shutdown). */
  run(signal: AbortSignal): Promise<void>;
  /** The wait before the first pass; a jittered interval when absent. */
  initialDelayMs?: number;
  /**
   * one-replica: how long the lease outlives the holder's next due pass (and the deadline of the
   * pass in flight), i.e. how soon another replica takes over once the holder is gone.
   */
  leaseMs?: number;
  /**
   * Called once by `stop()` after the loop's pass in flight ended (never while one may still run: a
   * pass left behind after the grace skips it), to hand back what its passes hold. Errors are logged.
   */
  onStop?: () => Promise<void>;
}
