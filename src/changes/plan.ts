/**
 * A rollout plan: what the planner computes from a policy and the assets a selector resolves to, what a
 * change request freezes when it is scheduled, and what the rollout engine will drive phase by phase.
 * Plain JSON (no Dates), so a stored plan reads back the same. The planner writes version 2; plans
 * stored as version 1 are read (and upgraded) by readPlan in plan-read.ts.
 */
import type { Asset } from "../domain/inventory.js";
import type { Policy, Verification } from "../policy/schema.js";

/** The `ring` of the phases that hold the assets no ordering ring matches. */
export const IMPLICIT_RING = "(rest)";

/** A phase of a version-1 plan (stored before the rollout engine): assets by name, gates in words. */
export interface PlanPhaseV1 {
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

/** A version-1 plan as stored before the rollout engine; read through readPlan, never written. */
export interface PlanV1 {
  version: 1;
  policy: { name: string; version: number; hash: string };
  selector: string;
  emergency: boolean;
  timezone: string;
  createdAt: string;
  /** The canary first, always. */
  phases: PlanPhaseV1[];
  totalFailureBudget: number;
  /** A null start: no allowed start for every phase within a year; the plan cannot be scheduled as is. */
  schedule: { start: string | null; window: string | null; reason: string };
  warnings: string[];
  /** The policy's rollback mode, for the timeline; optional so plans stored without it still read. */
  rollback?: "automatic" | "manual";
}

/** The patch a plan rolls out: the change's package and version, in the ecosystem it is installed under. */
export interface PlanPatch {
  /** OSV ecosystem base name ("Debian"): its version scheme orders the installed versions. */
  ecosystem: string;
  package: string;
  version: string;
  artifactSha256: string | null;
  /** The files of the change's other binaries, installed with the artifact (absent: none). */
  alsoArtifacts?: Array<{ package: string; sha256: string }>;
}

export interface PlanInput {
  /** Already resolved from the selector: the matched assets. */
  assets: Asset[];
  /** Asset id → the lowest installed version of the patch's package there; absent: not installed. */
  installed: ReadonlyMap<string, string>;
  patch: PlanPatch;
  policy: Policy;
  policyRef: { name: string; version: number; hash: string };
  selector: string;
  /** An already-justified emergency with an approver: may start outside windows and override freezes that allow it. */
  emergency: boolean;
  now: Date;
  /** Requested earliest start. */
  notBefore?: Date;
}

// ---- version 2: what the rollout engine executes -------------------------------------------------------

/**
 * A gate between steps, as data the engine evaluates (src/gates/ has one evaluator per kind). Later
 * kinds (metric analysis, a canary judge) join this union and the registry without changing the engine.
 */
export type PlanGate =
  /** Every asset of the phase verified: the new version read back, every health check passed, heartbeating. */
  | { kind: "health" }
  /** At most `max` failed assets in the phase (and the plan's total budget across phases). */
  | { kind: "failure-budget"; max: number }
  /** Wait this long after the phase's last asset was verified, then check health again. */
  | { kind: "observation"; ms: number }
  /** Before the next ring starts: wait this long after this phase passed. Rings by label ("prod"), as phase names. */
  | { kind: "soak"; ms: number; nextRing: string }
  /** The next ring gets exactly the artifact this ring verified (its sha256 is pinned in `patch`). */
  | { kind: "exact-promotion"; fromRing: string; toRing: string }
  /** After the last phase: every patched asset of the change verified once more. */
  | { kind: "final-verification" }
  /** The phase fails when it has not passed this long after it started. */
  | { kind: "progress-deadline"; ms: number };

export type PlanGateKind = PlanGate["kind"];

/** A target: an asset whose installed version of the package is below the change's. */
export interface PlanTarget {
  id: string;
  name: string;
  environment: string;
  group: string;
  region: string;
  /** The installed version the planner saw; empty only in a version-1 plan whose asset has no version now. */
  fromVersion: string;
  toVersion: string;
}

/** unknown-version: the installed version is not one the ecosystem's scheme can order. */
export type SkipReason = "up-to-date" | "not-installed" | "unknown-version" | "excluded";

/** An asset the selector matched that the change does not patch, and why. */
export interface PlanSkip {
  id: string;
  name: string;
  reason: SkipReason;
  /** The installed version (null when the package is not installed). */
  installedVersion: string | null;
}

export interface PlanPhaseV2 {
  name: string;
  kind: "canary" | "wave";
  ring: string | null;
  /** Asset ids in execution order (batch by batch), with their names for people. */
  assets: Array<{ id: string; name: string }>;
  /** Ids, split so that at most maxUnavailable per group and region are out at once (for the estimate). */
  batches: string[][];
  start: string;
  observeMs: number;
  failureBudget: number;
  gates: PlanGate[];
}

export interface PlanV2 {
  version: 2;
  policy: { name: string; version: number; hash: string };
  selector: string;
  emergency: boolean;
  timezone: string;
  createdAt: string;
  patch: PlanPatch;
  /** In execution order: phase by phase, batch by batch (the rollout's `seq`). */
  targets: PlanTarget[];
  /** Sorted by name. */
  skipped: PlanSkip[];
  phases: PlanPhaseV2[];
  /** Most assets out of service at once, per group and per region of the targets (invariant 1). */
  maxUnavailable: { group: Record<string, number>; region: Record<string, number> };
  totalFailureBudget: number;
  progressDeadlineMs: number;
  /** How long one revert may run before it counts as hung; absent in plans frozen before it existed. */
  revertTimeoutMs?: number;
  notifyBeforeMs: number;
  rollback: "automatic" | "manual";
  /** The policy's verification section, frozen with the plan; placeholders are filled per asset. */
  verification: Verification;
  /** After the last phase (a gate of kind final-verification). */
  finalVerification: boolean;
  schedule: { start: string | null; window: string | null; reason: string };
  warnings: string[];
  /** As `terraform plan` ends: what the change would do. */
  summary: {
    toPatch: number;
    skipped: number;
    phases: number;
    rings: number;
    /** The schedule's start (null when it cannot be scheduled). */
    earliestStart: string | null;
    /** The last phase's start plus its estimated batches and observation; null when unscheduled. */
    estimatedEnd: string | null;
  };
}
