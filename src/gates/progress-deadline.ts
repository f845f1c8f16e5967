import type { GateEvaluator } from "./gate.js";
import { phaseName, verdict } from "./verdict.js";

/**
 * A phase must have done its work this long after it started (time paused excluded). The observation
 * that follows is bounded by its own duration, so only a running phase can miss its deadline.
 */
export const progressDeadlineGate: GateEvaluator<"progress-deadline"> = {
  kind: "progress-deadline",
  async evaluate(gate, input) {
    const { phase } = input;
    if (phase.startedAt === null || phase.state !== "running") {
      return verdict("progress-deadline", input, "pass", `${phaseName(input)} is not running`);
    }
    const deadline = new Date(new Date(phase.startedAt).getTime() + gate.ms + phase.pausedMs).toISOString();
    if (input.now.toISOString() > deadline) {
      return verdict(
        "progress-deadline",
        input,
        "fail",
        `${phaseName(input)} did not finish within ${gate.ms} ms (deadline ${deadline})`,
      );
    }
    return verdict("progress-deadline", input, "pass", `deadline ${deadline}`, deadline);
  },
};
