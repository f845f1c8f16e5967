import type { GateEvaluator } from "./gate.js";
import { phaseAssets, phaseName, someNames, verdict } from "./verdict.js";

// Failed assets are the failure budget's to judge; skipped and reverted ones are not part of the phase.
const JUDGED_ELSEWHERE = new Set(["failed", "skipped", "reverted"]);

/**
 * Every asset of the phase verified: the new version read back, every health check passed, and its
 * agent still heartbeating. Waits while assets are still being patched; an asset that was verified and
 * then stopped heartbeating fails the gate (the patch may have taken the host down).
 */
export const healthGate: GateEvaluator<"health"> = {
  kind: "health",
  async evaluate(_gate, input) {
    const judged = phaseAssets(input).filter((a) => !JUDGED_ELSEWHERE.has(a.state));
    const silent = judged.filter((a) => a.state === "done" && !a.heartbeating).map((a) => a.name);
    if (silent.length > 0) {
      return verdict(
        "health",
        input,
        "fail",
        `${someNames(silent)} stopped heartbeating after ${silent.length === 1 ? "its" : "their"} patch`,
      );
    }
    const unverified = judged.filter((a) => a.state !== "done" || !a.verified);
    if (unverified.length > 0) {
      const done = judged.length - unverified.length;
      return verdict(
        "health",
        input,
        "wait",
        `${done} of ${judged.length} assets of ${phaseName(input)} verified`,
      );
    }
    return verdict(
      "health",
      input,
      "pass",
      judged.length === 0
        ? `no asset of ${phaseName(input)} left to verify`
        : `all ${judged.length} assets of ${phaseName(input)} verified and heartbeating`,
    );
  },
};
