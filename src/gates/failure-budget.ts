import type { GateEvaluator } from "./gate.js";
import { phaseAssets, phaseName, someNames, verdict } from "./verdict.js";

/** At most `max` failed assets in the phase, and at most the plan's total budget across the rollout. */
export const failureBudgetGate: GateEvaluator<"failure-budget"> = {
  kind: "failure-budget",
  async evaluate(gate, input) {
    const inPhase = phaseAssets(input)
      .filter((a) => a.state === "failed")
      .map((a) => a.name);
    const total = input.assets.filter((a) => a.state === "failed").length;
    const budget = input.plan.totalFailureBudget;
    if (inPhase.length > gate.max) {
      return verdict(
        "failure-budget",
        input,
        "fail",
        `${inPhase.length} failed in ${phaseName(input)} (${someNames(inPhase)}), budget ${gate.max}`,
      );
    }
    if (total > budget) {
      return verdict(
        "failure-budget",
        input,
        "fail",
        `${total} failed in the rollout, total budget ${budget}`,
      );
    }
    return verdict(
      "failure-budget",
      input,
      "pass",
      `${inPhase.length} failed in ${phaseName(input)} (budget ${gate.max}), ${total} in total (budget ${budget})`,
    );
  },
};
