/**
 * What `decide` asks for: state transitions to persist (each with its audit event), operations to
 * insert and then hand to executors, notifications and an incident. Plain data, in order: apply.ts
 * persists them in one write and dispatches after it commits.
 */

import type { NotificationEvent } from "../notify/outbox.js";
import type { GateResult } from "./gate-input.js";
import type { AssetState, OperationAction, PhaseState, RolloutState } from "./model.js";
import type { OperationResult, Snapshot } from "./operation.js";
import type { FailedGateAbort } from "./view.js";

export interface AssetFields {
  attempt?: number;
  snapshot?: Snapshot | null;
  startedAt?: string | null;
  unavailableSince?: string | null;
  finishedAt?: string | null;
}

export interface RolloutFields {
  currentPhase?: number;
  pausedBy?: string | null;
  pausedSince?: string | null;
  gateFailedAt?: string | null;
  failedGate?: GateResult | FailedGateAbort | null;
  rollbackScope?: "phase" | "change" | null;
  timeToRollbackMs?: number | null;
  finishedAt?: string | null;
}

export type Action =
  /** Record what an executor observed of an open operation (or that it timed out). */
  | {
      type: "operation.finish";
      opId: string;
      assetId: string;
      state: "succeeded" | "failed" | "lost";
      result: OperationResult | null;
      error: string | null;
      /** Also withdraw it from its executor (it timed out). */
      withdraw: boolean;
    }
  /** Insert the operation (the intent), then hand it to its executor once the write committed. */
  | {
      type: "operation.dispatch";
      opId: string;
      key: string;
      assetId: string;
      action: OperationAction;
      attempt: number;
    }
  /** Withdraw a queued operation from its executor (after the write); the next pass sees the outcome. */
  | { type: "operation.withdraw"; opId: string; assetId: string }
  | {
      type: "asset.transition";
      assetId: string;
      from: AssetState;
      to: AssetState;
      reason: string | null;
      opId: string | null;
      set: AssetFields;
    }
  | {
      type: "phase.transition";
      idx: number;
      from: PhaseState;
      to: PhaseState;
      reason: string;
      set: { startedAt?: string; observeUntil?: string | null; finishedAt?: string | null };
    }
  /** The latest verdict of each gate of a phase, when one changed. */
  | { type: "phase.gates"; idx: number; results: GateResult[] }
  /** Time paused while the phase was in progress (not counted against its deadline). */
  | { type: "phase.paused"; idx: number; addMs: number }
  | {
      type: "rollout.transition";
      from: RolloutState;
      to: RolloutState;
      reason: string;
      set: RolloutFields;
    }
  /** Columns that are no transition (the current phase, the pause bookkeeping). */
  | { type: "rollout.update"; set: RolloutFields }
  | { type: "notify"; event: NotificationEvent; occurrence: string; data: Record<string, unknown> }
  /** Open the rollout's incident (it ends rolled-back or failed). */
  | { type: "incident.open"; outcome: "rolled-back" | "failed"; whatFailed: Record<string, unknown> };

export type ActionType = Action["type"];
