import type { LoopScope } from "./loop.js";

/** How a pass ended: `skipped` when another replica held a one-replica loop's lease. */
export type PassOutcome = "ok" | "error" | "timeout" | "aborted" | "skipped";

/** A loop's figures since this process started, kept in memory for /metrics and for tests. */
export interface LoopMetrics {
  name: string;
  scope: LoopScope;
  intervalMs: number;
  timeoutMs: number;
  /** A pass is in flight now. */
  running: boolean;
  /** one-replica: this replica held the lease at its last attempt (always true for every-replica). */
  holdsLease: boolean;
  /** Passes that ran (whatever their outcome), skipped ones not included. */
  passes: number;
  errors: number;
  timeouts: number;
  skipped: number;
  /** Sum of the durations of the passes that ran, for a mean or a Prometheus summary. */
  totalDurationMs: number;
  lastStartedAt: string | null;
  lastFinishedAt: string | null;
  lastDurationMs: number | null;
  lastOutcome: PassOutcome | null;
  lastError: string | null;
}

export function emptyMetrics(
  name: string,
  scope: LoopScope,
  intervalMs: number,
  timeoutMs: number,
): LoopMetrics {
  return {
    name,
    scope,
    intervalMs,
    timeoutMs,
    running: false,
    holdsLease: scope === "every-replica",
    passes: 0,
    errors: 0,
    timeouts: 0,
    skipped: 0,
    totalDurationMs: 0,
    lastStartedAt: null,
    lastFinishedAt: null,
    lastDurationMs: null,
    lastOutcome: null,
    lastError: null,
  };
}
