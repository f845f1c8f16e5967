/**
 * Checks across fields that the schema's per-field rules do not see: waves whose percentages add up
 * past 100 %, recurring freezes that end when they start, and (as warnings) phases that would take no
 * asset for a fleet of the policy's typical size. `policy validate` and `policy apply` run them on new
 * content; stored versions are read without them, so a version stored before they existed still loads.
 */
import type { ErrorReason } from "../domain/error-reasons.js";
import { parseAmount, parseDuration } from "./duration.js";
import { phaseSizes } from "./phase-sizes.js";
import type { Policy } from "./schema.js";

export interface ConsistencyIssue {
  path: (string | number)[];
  message: string;
  reason?: ErrorReason;
}

export interface ConsistencyResult {
  errors: ConsistencyIssue[];
  warnings: ConsistencyIssue[];
}

export interface ConsistencyOptions {
  /** Assets a rollout typically covers; overrides `rollout.typicalFleetSize`. */
  fleetSize?: number;
}

/** The cross-field problems of a schema-valid policy. */
export function policyConsistency(policy: Policy, options: ConsistencyOptions = {}): ConsistencyResult {
  const errors = [...waveTotalErrors(policy), ...freezeErrors(policy)];
  const fleetSize = options.fleetSize ?? policy.rollout.typicalFleetSize;
  const warnings = fleetSize === undefined ? [] : emptyPhaseWarnings(policy, fleetSize);
  return { errors, warnings };
}

// A wave's percentage is the share of the ring done by its end, counted on from the earlier waves, so
// past 100 % the later waves have nothing left: the author meant something else.
function waveTotalErrors(policy: Policy): ConsistencyIssue[] {
  let total = 0;
  const parts: string[] = [];
  for (const [i, phase] of policy.rollout.phases.entries()) {
    const amount = phase.wave === undefined ? undefined : parseAmount(phase.wave);
    if (amount?.kind !== "percent") continue;
    total += amount.value;
    parts.push(`${amount.value}%`);
    if (total > 100) {
      return [
        {
          path: ["rollout", "phases", i, "wave"],
          message: `rollout.phases[${i}].wave: the waves add up to ${total}% (${parts.join(" + ")}), more than 100%; each wave's percentage is added to the ones before it`,
          reason: "policy.waves-over-100",
        },
      ];
    }
  }
  return [];
}

function freezeErrors(policy: Policy): ConsistencyIssue[] {
  return policy.freezes.flatMap((f, i): ConsistencyIssue[] =>
    f.duration !== undefined && parseDuration(f.duration) <= 0
      ? [
          {
            path: ["freezes", i, "duration"],
            message: `${f.name}.duration: a freeze must last longer than 0 (it would end as it starts)`,
            reason: "policy.freeze-ends-before-start",
          },
        ]
      : [],
  );
}

function emptyPhaseWarnings(policy: Policy, fleetSize: number): ConsistencyIssue[] {
  return phaseSizes(policy, fleetSize).flatMap((p): ConsistencyIssue[] =>
    p.size === 0
      ? [
          {
            path: ["rollout", "phases", p.index, p.kind],
            message: `rollout.phases[${p.index}] (${p.kind} ${p.amount}) would be empty for a fleet of ${fleetSize} asset${fleetSize === 1 ? "" : "s"}: the phases before it take them all`,
          },
        ]
      : [],
  );
}
