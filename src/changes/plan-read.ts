/**
 * Reading a stored plan: version 2 as it is, version 1 (frozen before the rollout engine existed)
 * upgraded to version 2. A version-1 plan named assets only and stated its gates in words; what it did
 * not record comes from the caller (the change's patch, the assets' ids and placement, the pinned
 * policy) and, when the caller does not know it, a stand-in with a warning saying so.
 * Pure: stored-plan.ts looks up what an upgrade needs in the store.
 */
import { reasonError } from "../domain/errors.js";
import { parseDuration } from "../policy/duration.js";
import { rolloutPlan } from "../policy/rules.js";
import { type Policy, PolicySchema } from "../policy/schema.js";
import type { PlanGate, PlanPatch, PlanPhaseV1, PlanPhaseV2, PlanTarget, PlanV1, PlanV2 } from "./plan.js";
import { planEstimatedEnd, unavailableLimits } from "./planner.js";

/** What the store knows of an asset a version-1 plan names. */
export interface UpgradeAsset {
  id: string;
  environment: string;
  group: string;
  region: string;
  /** The version of the patch's package installed now; null when it is not installed. */
  installedVersion: string | null;
}

/** What a version-1 plan did not record; ignored for version 2. */
export interface PlanUpgrade {
  patch?: PlanPatch;
  /** By asset name. */
  assets?: ReadonlyMap<string, UpgradeAsset>;
  /** The pinned policy: progress deadline, notice, verification and maxUnavailable. */
  policy?: Policy;
}

const SOAK = /^soak (\S+) before ring "(.*)"$/;
const EXACT = /^ring "(.*)" gets the exact patch set that passed ring "(.*)"$/;
const FINAL = /^final verification/;

function unreadable(message: string): Error {
  return reasonError("plan.unreadable", `stored plan: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The structured gates a version-1 phase stated in words. */
function gatesOf(phase: PlanPhaseV1, deadlineMs: number): PlanGate[] {
  const gates: PlanGate[] = [{ kind: "health" }, { kind: "failure-budget", max: phase.failureBudget }];
  if (deadlineMs > 0) gates.push({ kind: "progress-deadline", ms: deadlineMs });
  if (phase.observeMs > 0) gates.push({ kind: "observation", ms: phase.observeMs });
  for (const words of phase.gates) {
    const soak = SOAK.exec(words);
    const exact = EXACT.exec(words);
    if (soak?.[1] !== undefined && soak[2] !== undefined) {
      gates.push({ kind: "soak", ms: parseDuration(soak[1]), nextRing: soak[2] });
    } else if (exact?.[1] !== undefined && exact[2] !== undefined) {
      gates.push({ kind: "exact-promotion", fromRing: exact[2], toRing: exact[1] });
    } else if (FINAL.test(words)) {
      gates.push({ kind: "final-verification" });
    }
  }
  return gates;
}

function upgrade(v1: PlanV1, given: PlanUpgrade): PlanV2 {
  const policy = given.policy ?? PolicySchema.parse({});
  const rollout = rolloutPlan(policy);
  const warnings = [...v1.warnings];
  const patch: PlanPatch = given.patch ?? {
    ecosystem: "Debian",
    package: "",
    version: "",
    artifactSha256: null,
  };
  if (given.patch === undefined) warnings.push("version-1 plan: the patch was not recorded with it");
  const unknown: string[] = [];
  const idOf = (name: string): string => {
    const id = given.assets?.get(name)?.id;
    if (id === undefined) unknown.push(name);
    return id ?? name;
  };
  const phases = v1.phases.map((p): PlanPhaseV2 => {
    // Execution order is batch by batch, as in version 2.
    const order = p.batches.length > 0 ? p.batches.flat() : p.assets;
    return {
      name: p.name,
      kind: p.kind,
      ring: p.ring,
      assets: order.map((name) => ({ id: idOf(name), name })),
      batches: p.batches.map((b) => b.map((name) => given.assets?.get(name)?.id ?? name)),
      start: p.start,
      observeMs: p.observeMs,
      failureBudget: p.failureBudget,
      gates: gatesOf(p, rollout.progressDeadlineMs),
    };
  });
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).join(", ");
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
    warnings.push(
      `version-1 plan: no asset id known for ${unknown.length} asset(s) (${shown}${more}); their names stand in for ids`,
    );
  }
  const targets = phases.flatMap((p) =>
    p.assets.map(({ id, name }): PlanTarget => {
      const known = given.assets?.get(name);
      return {
        id,
        name,
        environment: known?.environment ?? "",
        group: known?.group ?? "",
        region: known?.region ?? "",
        // A version-1 plan did not record it; what is installed now, else empty.
        fromVersion: known?.installedVersion ?? "",
        toVersion: patch.version,
      };
    }),
  );
  // Unknown placement counts as one group and one region: the strictest limits, never looser ones.
  const maxUnavailable = unavailableLimits(rollout.maxUnavailable, targets);
  const finalVerification = phases.some((p) => p.gates.some((g) => g.kind === "final-verification"));
  return {
    version: 2,
    policy: { ...v1.policy },
    selector: v1.selector,
    emergency: v1.emergency,
    timezone: v1.timezone,
    createdAt: v1.createdAt,
    patch,
    targets,
    skipped: [],
    phases,
    maxUnavailable,
    totalFailureBudget: v1.totalFailureBudget,
    progressDeadlineMs: rollout.progressDeadlineMs,
    revertTimeoutMs: rollout.revertTimeoutMs,
    notifyBeforeMs: rollout.notifyBeforeMs,
    rollback: v1.rollback ?? rollout.rollback,
    verification: structuredClone(policy.verification),
    finalVerification,
    schedule: { ...v1.schedule },
    warnings,
    summary: {
      toPatch: targets.length,
      skipped: 0,
      phases: phases.length,
      rings: new Set(phases.map((p) => p.ring)).size,
      earliestStart: v1.schedule.start,
      estimatedEnd: v1.schedule.start === null ? null : planEstimatedEnd(phases, v1.timezone),
    },
  };
}

/**
 * A stored plan (its JSON text) as version 2. AppError reason `plan.unreadable` for text that is not
 * a plan of a known version.
 */
export function readPlan(json: string, given: PlanUpgrade = {}): PlanV2 {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw unreadable(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(value) || !Array.isArray(value.phases)) throw unreadable("not a plan");
  if (value.version === 2) return value as unknown as PlanV2;
  if (value.version === 1) return upgrade(value as unknown as PlanV1, given);
  throw unreadable(`unknown version ${JSON.stringify(value.version)}`);
}

/** The asset names a stored version-1 plan lists (to look their ids up); null for any other text. */
export function versionOneAssetNames(json: string): string[] | null {
  try {
    const value: unknown = JSON.parse(json);
    if (!isObject(value) || value.version !== 1 || !Array.isArray(value.phases)) return null;
    return (value as unknown as PlanV1).phases.flatMap((p) => p.assets);
  } catch {
    return null;
  }
}
