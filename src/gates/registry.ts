import type { PlanGate, PlanGateKind } from "../changes/plan.js";
import type { GateEvaluator, GateInput, GateResult } from "./gate.js";

const EVALUATORS = new Map<PlanGateKind, GateEvaluator>();

export function registerGate<K extends PlanGateKind>(evaluator: GateEvaluator<K>): void {
  EVALUATORS.set(evaluator.kind, evaluator as unknown as GateEvaluator);
}

export function evaluateGate(gate: PlanGate, input: GateInput): Promise<GateResult> {
  const evaluator = EVALUATORS.get(gate.kind);
  if (!evaluator) throw new Error(`no evaluator registered for gate kind "${gate.kind}"`);
  return evaluator.evaluate(gate as never, input);
}

export function registeredGateKinds(): PlanGateKind[] {
  return [...EVALUATORS.keys()];
}
