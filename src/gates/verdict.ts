import type { PlanGateKind } from "../changes/plan.js";
import type { GateInput, GateResult } from "./gate.js";

/** A GateResult stamped with the input's instant. */
export function verdict(
  kind: PlanGateKind,
  input: GateInput,
  status: GateResult["status"],
  reason: string,
  until?: string,
): GateResult {
  return {
    kind,
    status,
    reason,
    ...(until === undefined ? {} : { until }),
    evaluatedAt: input.now.toISOString(),
  };
}

/** The assets of the gate's phase. */
export function phaseAssets(input: GateInput): GateInput["assets"] {
  return input.assets.filter((a) => a.phaseIdx === input.phaseIdx);
}

/** The phase's name for messages (the final verification has no plan phase). */
export function phaseName(input: GateInput): string {
  return input.plan.phases[input.phaseIdx]?.name ?? "final verification";
}

/** Up to `max` names, then how many more. */
export function someNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
