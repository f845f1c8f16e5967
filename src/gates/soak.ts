import type { GateEvaluator } from "./gate.js";
import { phaseName, verdict } from "./verdict.js";

/** The next ring starts only this long after this phase passed. */
export const soakGate: GateEvaluator<"soak"> = {
  kind: "soak",
  async evaluate(gate, input) {
    const { phase } = input;
    if (phase.state !== "passed" || phase.finishedAt === null) {
      return verdict("soak", input, "wait", `${phaseName(input)} has not passed yet`);
    }
    const until = new Date(new Date(phase.finishedAt).getTime() + gate.ms).toISOString();
    if (input.now.toISOString() >= until) {
      return verdict("soak", input, "pass", `soaked ${gate.ms} ms before ring ${gate.nextRing}`);
    }
    return verdict("soak", input, "wait", `soaking until ${until} before ring ${gate.nextRing}`, until);
  },
};
