import type { GateEvaluator } from "./gate.js";
import { phaseName, verdict } from "./verdict.js";

/** The phase has been observed for its time (or an operator promoted it). */
export const observationGate: GateEvaluator<"observation"> = {
  kind: "observation",
  async evaluate(gate, input) {
    const { phase } = input;
    if (phase.state === "passed") return verdict("observation", input, "pass", "observed");
    if (phase.state !== "observing" || phase.observeUntil === null) {
      return verdict(
        "observation",
        input,
        "wait",
        `${phaseName(input)} is not observing yet (${gate.ms} ms)`,
      );
    }
    if (phase.promoted) return verdict("observation", input, "pass", "promoted: observation ended early");
    if (input.now.getTime() >= new Date(phase.observeUntil).getTime()) {
      return verdict("observation", input, "pass", `observed until ${phase.observeUntil}`);
    }
    return verdict("observation", input, "wait", `observing until ${phase.observeUntil}`, phase.observeUntil);
  },
};
