import type { PlanGate, PlanGateKind } from "../changes/plan.js";
import type { GateInput, GateResult } from "../rollout/gate-input.js";

// The verdict and what a gate sees are the engine's types (src/rollout): gates build on them.
export type { GateInput, GateResult } from "../rollout/gate-input.js";

/**
 * One kind of gate. `evaluate` may do I/O (a metric query, a judge); it must not write the store:
 * the engine records the result with the transition it leads to.
 */
export interface GateEvaluator<K extends PlanGateKind = PlanGateKind> {
  readonly kind: K;
  evaluate(gate: Extract<PlanGate, { kind: K }>, input: GateInput): Promise<GateResult>;
}
