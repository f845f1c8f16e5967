/**
 * A rollout plan: what the planner computes from a policy and the assets a selector resolves to, what a
 * change request freezes when it is scheduled, and what the rollout engine will drive phase by phase.
 * Plain JSON (no Dates), so a stored plan reads back the same. The planner writes version 2; plans
 * stored as version 1 are read (and upgraded) by readPlan in plan-read.ts.
 */

import { z } from "zod";
import type { Asset } from "../domain/inventory.js";
import { type Policy, VerificationSchema } from "../policy/schema.js";

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
const planPatchSchema = z.object({
  /** OSV ecosystem base name ("Debian"): its version scheme orders the installed versions. */
  ecosystem: z.string(),
  package: z.string(),
  version: z.string(),
  artifactSha256: z.string().nullable(),
  /** The files of the change's other binaries, installed with the artifact (absent: none). */
  alsoArtifacts: z.array(z.object({ package: z.string(), sha256: z.string() })).optional(),
});

export type PlanPatch = z.infer<typeof planPatchSchema>;

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
const planGateSchema = z.discriminatedUnion("kind", [
  /** Every asset of the phase verified: the new version read back, every health check passed, heartbeating. */
  z.object({ kind: z.literal("health") }),
  /** At most `max` failed assets in the phase (and the plan's total budget across phases). */
  z.object({ kind: z.literal("failure-budget"), max: z.number() }),
  /** Wait this long after the phase's last asset was verified, then check health again. */
  z.object({ kind: z.literal("observation"), ms: z.number() }),
  /** Before the next ring starts: wait this long after this phase passed. Rings by label ("prod"), as phase names. */
  z.object({ kind: z.literal("soak"), ms: z.number(), nextRing: z.string() }),
  /** The next ring gets exactly the artifact this ring verified (its sha256 is pinned in `patch`). */
  z.object({ kind: z.literal("exact-promotion"), fromRing: z.string(), toRing: z.string() }),
  /** After the last phase: every patched asset of the change verified once more. */
  z.object({ kind: z.literal("final-verification") }),
  /** The phase fails when it has not passed this long after it started. */
  z.object({ kind: z.literal("progress-deadline"), ms: z.number() }),
]);

export type PlanGate = z.infer<typeof planGateSchema>;
export type PlanGateKind = PlanGate["kind"];

/** A target: an asset whose installed version of the package is below the change's. */
const planTargetSchema = z.object({
  id: z.string(),
  name: z.string(),
  environment: z.string(),
  group: z.string(),
  region: z.string(),
  /** The installed version the planner saw; empty only in a version-1 plan whose asset has no version now. */
  fromVersion: z.string(),
  toVersion: z.string(),
});

export type PlanTarget = z.infer<typeof planTargetSchema>;

/** unknown-version: the installed version is not one the ecosystem's scheme can order. */
const SKIP_REASONS = ["up-to-date", "not-installed", "unknown-version", "excluded"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** An asset the selector matched that the change does not patch, and why. */
const planSkipSchema = z.object({
  id: z.string(),
  name: z.string(),
  reason: z.enum(SKIP_REASONS),
  /** The installed version (null when the package is not installed). */
  installedVersion: z.string().nullable(),
});

export type PlanSkip = z.infer<typeof planSkipSchema>;

const planPhaseV2Schema = z.object({
  name: z.string(),
  kind: z.enum(["canary", "wave"]),
  ring: z.string().nullable(),
  /** Asset ids in execution order (batch by batch), with their names for people. */
  assets: z.array(z.object({ id: z.string(), name: z.string() })),
  /** Ids, split so that at most maxUnavailable per group and region are out at once (for the estimate). */
  batches: z.array(z.array(z.string())),
  start: z.string(),
  observeMs: z.number(),
  failureBudget: z.number(),
  gates: z.array(planGateSchema),
});

export type PlanPhaseV2 = z.infer<typeof planPhaseV2Schema>;

const placementCounts = z.record(z.string(), z.number().int());

/** The frozen plan, version 2: the one schema of its shape (`change plan --json` prints it). */
export const planV2Schema = z
  .object({
    version: z.literal(2),
    policy: z.object({ name: z.string(), version: z.number().int(), hash: z.string() }),
    selector: z.string(),
    emergency: z.boolean(),
    timezone: z.string(),
    createdAt: z.string(),
    patch: planPatchSchema,
    /** In execution order: phase by phase, batch by batch (the rollout's `seq`). */
    targets: z.array(planTargetSchema),
    /** Sorted by name. */
    skipped: z.array(planSkipSchema),
    phases: z.array(planPhaseV2Schema),
    /** Most assets out of service at once, per group and per region of the targets (invariant 1). */
    maxUnavailable: z.object({ group: placementCounts, region: placementCounts }),
    totalFailureBudget: z.number(),
    progressDeadlineMs: z.number(),
    /** How long one revert may run before it counts as hung; absent in plans frozen before it existed. */
    revertTimeoutMs: z.number().optional(),
    notifyBeforeMs: z.number(),
    rollback: z.enum(["automatic", "manual"]),
    /** The policy's verification section, frozen with the plan; placeholders are filled per asset. */
    verification: VerificationSchema,
    /** After the last phase (a gate of kind final-verification). */
    finalVerification: z.boolean(),
    schedule: z.object({ start: z.string().nullable(), window: z.string().nullable(), reason: z.string() }),
    warnings: z.array(z.string()),
    /** As `terraform plan` ends: what the change would do. */
    summary: z.object({
      toPatch: z.number().int(),
      skipped: z.number().int(),
      phases: z.number().int(),
      rings: z.number().int(),
      /** The schedule's start (null when it cannot be scheduled). */
      earliestStart: z.string().nullable(),
      /** The last phase's start plus its estimated batches and observation; null when unscheduled. */
      estimatedEnd: z.string().nullable(),
    }),
  })
  .meta({ id: "Plan" });

export type PlanV2 = z.infer<typeof planV2Schema>;
