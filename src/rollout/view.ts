/**
 * The whole stored state of one rollout at one instant, as the pure `decide` sees it: the rollout row,
 * its phases, its assets, the operations of their current attempts (with what the executors observed
 * of the open ones), and the facts from around it (inventory, the emergency stop). Plain data.
 */
import type { PlanGate, PlanV2 } from "../changes/plan.js";
import type { GateResult } from "./gate-input.js";
import type { AssetState, OperationAction, OperationState, PhaseState, RolloutState } from "./model.js";
import type { OperationOutcome, OperationResult, Snapshot } from "./operation.js";

export interface ViewRollout {
  id: string;
  changeId: string;
  state: RolloutState;
  stateReason: string | null;
  pausedBy: string | null;
  pausedSince: string | null;
  currentPhase: number;
  gateFailedAt: string | null;
  failedGate: GateResult | FailedGateAbort | null;
  /** What a rollback returns: the failed phase's assets, or every touched asset of the change. */
  rollbackScope: "phase" | "change" | null;
  revision: number;
  startedAt: string | null;
}

/** What `rollout abort` records as the failed gate. */
export interface FailedGateAbort {
  kind: "abort";
  reason: string;
  by: string;
}

export interface ViewPhase {
  idx: number;
  name: string;
  /** `final`: the final verification after the last plan phase. */
  kind: "canary" | "wave" | "final";
  ring: string | null;
  state: PhaseState;
  startedAt: string | null;
  observeUntil: string | null;
  finishedAt: string | null;
  promotedBy: string | null;
  gateResults: GateResult[];
  pausedMs: number;
}

export interface ViewAsset {
  id: string;
  name: string;
  phaseIdx: number;
  seq: number;
  group: string;
  region: string;
  state: AssetState;
  reason: string | null;
  fromVersion: string | null;
  toVersion: string;
  attempt: number;
  snapshot: Snapshot | null;
  startedAt: string | null;
  unavailableSince: string | null;
  finishedAt: string | null;
  /** Still in the inventory. */
  present: boolean;
  /** Its agent heartbeated within two heartbeat intervals. */
  heartbeating: boolean;
}

export interface ViewOperation {
  id: string;
  key: string;
  assetId: string;
  action: OperationAction;
  attempt: number;
  /** As stored. */
  state: OperationState;
  step: string | null;
  createdAt: string;
  /** What became of it: observed through its executor when open, read from the row when finished. */
  outcome: OperationOutcome | { status: "cancelled" };
}

/** May new work start now under the policy's windows and freezes (see calendar.ts checkStart)? */
export interface CalendarDecision {
  allowed: boolean;
  reason: string;
  /** What the window that closed asks of a rollout: let running operations end, or withdraw queued ones too. */
  onClose: "finish-in-flight" | "pause-now";
}

export interface RolloutView {
  rollout: ViewRollout;
  plan: PlanV2;
  /** By idx; the final verification (when the plan has one) is the last. */
  phases: ViewPhase[];
  /** In seq order. */
  assets: ViewAsset[];
  /** The operations of every asset's current attempt, and every open one. */
  operations: ViewOperation[];
  /** The emergency stop is set: its reason. */
  stopAll: string | null;
  /** An open patch or verify not finished this long after it was created is given up as lost. */
  operationTimeoutMs: number;
  /** The same for a revert: a rollback has its own bound, not the forward phase's deadline. */
  revertTimeoutMs: number;
}

export type GateResultsByPhase = ReadonlyMap<number, readonly GateResult[]>;

/** The gates of a phase, with the engine's safe defaults for any a plan leaves out. */
export function gatesOfPhase(plan: PlanV2, idx: number): PlanGate[] {
  const phase = plan.phases[idx];
  if (phase === undefined) {
    return [{ kind: "final-verification" }, { kind: "progress-deadline", ms: plan.progressDeadlineMs }];
  }
  const gates = [...phase.gates];
  const has = (kind: PlanGate["kind"]) => gates.some((g) => g.kind === kind);
  // A plan without them would let an unhealthy or failing phase pass: the engine never does.
  if (!has("health")) gates.push({ kind: "health" });
  if (!has("failure-budget")) gates.push({ kind: "failure-budget", max: phase.failureBudget });
  if (!has("observation") && phase.observeMs > 0) gates.push({ kind: "observation", ms: phase.observeMs });
  if (!has("progress-deadline") && plan.progressDeadlineMs > 0) {
    gates.push({ kind: "progress-deadline", ms: plan.progressDeadlineMs });
  }
  return gates;
}

/** How long a phase observes after its assets are verified. */
export function observeMsOf(plan: PlanV2, idx: number): number {
  const phase = plan.phases[idx];
  if (phase === undefined) return 0;
  const gate = phase.gates.find((g) => g.kind === "observation");
  return gate?.kind === "observation" ? gate.ms : phase.observeMs;
}

export function isFinalOutcome(
  outcome: ViewOperation["outcome"],
): outcome is Extract<ViewOperation["outcome"], { status: "succeeded" | "failed" | "lost" | "cancelled" }> {
  return (
    outcome.status === "succeeded" ||
    outcome.status === "failed" ||
    outcome.status === "lost" ||
    outcome.status === "cancelled"
  );
}

/** The result an outcome carries, if any. */
export function resultOf(outcome: ViewOperation["outcome"]): OperationResult | null {
  if (outcome.status === "succeeded") return outcome.result;
  if (outcome.status === "failed") return outcome.result;
  return null;
}
