/**
 * A rollout plan: what the planner computes from a policy and the assets a selector resolves to, what a
 * change request freezes when it is scheduled, and what the rollout engine will drive phase by phase.
 * Plain JSON (no Dates), so a stored plan reads back the same.
 */
import type { Asset } from "../domain/inventory.js";
import type { Policy } from "../policy/schema.js";

/** The `ring` of the phases that hold the assets no ordering ring matches. */
export const IMPLICIT_RING = "(rest)";

export interface PlanPhase {
  /** "canary", "wave-1", "wave-2", …; ring-qualified when the policy orders rings ("mgmt/wave-1"). */
  name: string;
  kind: "canary" | "wave";
  /** The ordering ring's selector (IMPLICIT_RING for assets no ring matches); null without ordering. */
  ring: string | null;
  /** Asset names in this phase, sorted. */
  assets: string[];
  /** The phase split so that at most maxUnavailable per group and per region are out at once; run in order. */
  batches: string[][];
  /** Earliest start: ISO 8601 with the offset of the policy's time zone. */
  start: string;
  /** Observation after the phase, before the next. */
  observeMs: number;
  /** Failed assets tolerated in this phase. */
  failureBudget: number;
  /** What must pass before the next phase, in words. */
  gates: string[];
}

export interface Plan {
  version: 1;
  policy: { name: string; version: number; hash: string };
  selector: string;
  emergency: boolean;
  timezone: string;
  createdAt: string;
  /** The canary first, always. */
  phases: PlanPhase[];
  totalFailureBudget: number;
  /** A null start: no allowed start for every phase within a year; the plan cannot be scheduled as is. */
  schedule: { start: string | null; window: string | null; reason: string };
  warnings: string[];
  /** The policy's rollback mode, for the timeline; optional so plans stored without it still read. */
  rollback?: "automatic" | "manual";
}

export interface PlanInput {
  /** Already resolved from the selector. */
  assets: Asset[];
  policy: Policy;
  policyRef: { name: string; version: number; hash: string };
  selector: string;
  /** An already-justified emergency with an approver: may start outside windows and override freezes that allow it. */
  emergency: boolean;
  now: Date;
  /** Requested earliest start. */
  notBefore?: Date;
}
