import type { PlanGate, PlanGateKind, PlanV2 } from "../changes/plan.js";
import type { AssetState, PhaseState } from "../rollout/model.js";

/** A gate's verdict: pass, fail (with why), or wait (and until when, if known). */
export interface GateResult {
  kind: PlanGateKind;
  status: "pass" | "fail" | "wait";
  reason: string;
  /** ISO time the gate may change its verdict by itself (an observation ending). */
  until?: string;
  evaluatedAt: string;
}

/** What a gate sees: the rollout's stored state at one instant. */
export interface GateInput {
  plan: PlanV2;
  phaseIdx: number;
  phase: {
    state: PhaseState;
    startedAt: string | null;
    observeUntil: string | null;
    /** When it passed or failed. */
    finishedAt: string | null;
    promoted: boolean;
    /** Time spent paused since it started: not counted against its progress deadline. */
    pausedMs: number;
  };
  assets: ReadonlyArray<{
    id: string;
    name: string;
    phaseIdx: number;
    state: AssetState;
    /** Last verification of the asset passed (version read back and every check). */
    verified: boolean;
    /** The asset's agent heartbeated within two intervals. */
    heartbeating: boolean;
    /** The outcome of its final verification (a `verify` operation); null before one was dispatched. */
    verification: "pending" | "passed" | "failed" | null;
    finishedAt: string | null;
  }>;
  now: Date;
}

/**
 * One kind of gate. `evaluate` may do I/O (a metric query, a judge); it must not write the store:
 * the engine records the result with the transition it leads to.
 */
export interface GateEvaluator<K extends PlanGateKind = PlanGateKind> {
  readonly kind: K;
  evaluate(gate: Extract<PlanGate, { kind: K }>, input: GateInput): Promise<GateResult>;
}
