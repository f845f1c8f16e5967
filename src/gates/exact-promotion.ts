import type { GateEvaluator } from "./gate.js";
import { verdict } from "./verdict.js";

/**
 * The next ring gets exactly what this ring verified. Every patch operation of a rollout carries the
 * one artifact (or, without one, the one version) pinned in the frozen plan, so this holds by
 * construction; the gate states which, so the timeline shows it.
 */
export const exactPromotionGate: GateEvaluator<"exact-promotion"> = {
  kind: "exact-promotion",
  async evaluate(gate, input) {
    const { patch } = input.plan;
    const what =
      patch.artifactSha256 === null
        ? `${patch.package} ${patch.version}`
        : `artifact sha256:${patch.artifactSha256} (${patch.package} ${patch.version})`;
    return verdict(
      "exact-promotion",
      input,
      "pass",
      `ring ${gate.toRing} gets ${what}, as ${gate.fromRing} did`,
    );
  },
};
