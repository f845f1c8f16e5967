/**
 * How many assets each rollout phase would take for a fleet of a given size, by the planner's rules:
 * a canary count or percentage (rounded up, at least 1); wave percentages add up to the share of the
 * fleet done by the end of that wave (canary included, rounded up), a wave count is that many more;
 * the last wave takes what remains. Used to warn about phases that would be empty at a typical size.
 */
import { parseAmount, resolveAmount } from "./duration.js";
import type { Policy } from "./schema.js";

export interface PhaseSize {
  /** Index in `rollout.phases`. */
  index: number;
  kind: "canary" | "wave";
  /** As written: `1`, `25%`, or a canary selector. */
  amount: string;
  /** Assets it takes; undefined for a canary selector (the fleet decides). */
  size: number | undefined;
}

/** The size of each phase of `policy` for `fleetSize` assets in one ring. */
export function phaseSizes(policy: Policy, fleetSize: number): PhaseSize[] {
  const out: PhaseSize[] = [];
  let done = 0;
  let pct = 0;
  const phases = policy.rollout.phases;
  const lastWave = phases.reduce((last, p, i) => (p.wave === undefined ? last : i), -1);
  phases.forEach((p, index) => {
    if (p.canary !== undefined) {
      const amount =
        typeof p.canary === "string" && !/^\s*\d/.test(p.canary) ? undefined : parseAmount(p.canary);
      const size = amount === undefined ? undefined : Math.max(1, resolveAmount(amount, fleetSize));
      done += size ?? 1;
      out.push({ index, kind: "canary", amount: String(p.canary), size });
      return;
    }
    const amount = parseAmount(p.wave ?? 0);
    const remaining = Math.max(0, fleetSize - done);
    let size: number;
    if (index === lastWave) size = remaining;
    else if (amount === undefined || amount.kind === "count") size = amount?.value ?? 0;
    else {
      pct += amount.value;
      size = Math.ceil((pct * fleetSize) / 100) - done;
    }
    size = Math.max(0, Math.min(size, remaining));
    done += size;
    out.push({ index, kind: "wave", amount: String(p.wave), size });
  });
  return out;
}
