import type { GateEvaluator } from "./gate.js";
import { someNames, verdict } from "./verdict.js";

/** After the last phase: every patched asset of the change verified once more. */
export const finalVerificationGate: GateEvaluator<"final-verification"> = {
  kind: "final-verification",
  async evaluate(_gate, input) {
    const patched = input.assets.filter((a) => a.state === "done");
    const failed = patched.filter((a) => a.verification === "failed").map((a) => a.name);
    if (failed.length > 0) {
      return verdict(
        "final-verification",
        input,
        "fail",
        `final verification failed on ${someNames(failed)}`,
      );
    }
    const passed = patched.filter((a) => a.verification === "passed" && a.heartbeating).length;
    if (passed < patched.length) {
      return verdict(
        "final-verification",
        input,
        "wait",
        `${passed} of ${patched.length} assets verified again`,
      );
    }
    return verdict(
      "final-verification",
      input,
      "pass",
      `all ${patched.length} patched assets verified again`,
    );
  },
};
