/**
 * The rollout engine's states. A rollout executes one change's frozen plan; every target asset moves
 * through its own states; operations are the actions handed to executors. Pure: no store.
 *
 *   rollout:  pending → running ⇄ paused
 *             running → completed | rolling-back → rolled-back | failed
 *             pending | running | paused → aborted (→ rolling-back of every touched asset first)
 *   asset:    pending → snapshotting → applying → verifying → done
 *             snapshotting | applying | verifying → failed → reverting → reverted
 *             done → reverting → reverted            (a later gate failed: the whole change goes back)
 *             pending | failed → skipped             (left the fleet, or an operator skipped it)
 *             snapshotting → pending                 (its queued operation withdrawn before a host took it)
 *   phase:    pending → running → observing → passed | failed   (or skipped when it has no assets left)
 */

export const ROLLOUT_STATES = [
  "pending",
  "running",
  "paused",
  "completed",
  "rolling-back",
  "rolled-back",
  "failed",
  "aborted",
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export const TERMINAL_ROLLOUT_STATES: readonly RolloutState[] = [
  "completed",
  "rolled-back",
  "failed",
  "aborted",
];

export const ASSET_STATES = [
  "pending",
  "snapshotting",
  "applying",
  "verifying",
  "done",
  "failed",
  "reverting",
  "reverted",
  "skipped",
] as const;
export type AssetState = (typeof ASSET_STATES)[number];

/**
 * Out of service (invariant 1 counts these). The engine moves an asset to `snapshotting` when it
 * dispatches its patch operation and to `reverting` when it dispatches a revert, so an asset counts
 * from the moment it is handed to the host (stricter than from the start of its install) until its
 * verification passes (`done`) or it is reverted. A failed asset stays out of service until it is
 * reverted or skipped.
 */
export const UNAVAILABLE_ASSET_STATES: readonly AssetState[] = [
  "snapshotting",
  "applying",
  "verifying",
  "failed",
  "reverting",
];

/** The asset changed the host: a rollback must return it. */
export const TOUCHED_ASSET_STATES: readonly AssetState[] = [
  "applying",
  "verifying",
  "done",
  "failed",
  "reverting",
];

export const PHASE_STATES = ["pending", "running", "observing", "passed", "failed", "skipped"] as const;
export type PhaseState = (typeof PHASE_STATES)[number];

export const OPERATION_ACTIONS = ["patch", "revert", "verify"] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];

export const OPERATION_STATES = ["queued", "leased", "succeeded", "failed", "lost", "cancelled"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];
export const OPEN_OPERATION_STATES: readonly OperationState[] = ["queued", "leased"];

/** Steps a host reports while it runs an operation; each moves the asset to the state of that name. */
export const OPERATION_STEPS = ["snapshotting", "applying", "verifying", "reverting"] as const;
export type OperationStep = (typeof OPERATION_STEPS)[number];

/** The policy's `rollout.revertTimeout` default, for plans frozen before the setting existed. */
export const DEFAULT_REVERT_TIMEOUT_MS = 30 * 60_000;

/** Engine-wide switch names (engine_switches). */
export const STOP_ALL_SWITCH = "stop-all";

const ROLLOUT_NEXT: Record<RolloutState, readonly RolloutState[]> = {
  pending: ["running", "paused", "aborted"],
  running: ["paused", "completed", "rolling-back", "failed", "aborted"],
  paused: ["running", "rolling-back", "failed", "aborted"],
  // aborted: an abort's rollback finished (every touched asset reverted).
  "rolling-back": ["rolled-back", "failed", "paused", "aborted"],
  completed: [],
  "rolled-back": [],
  failed: [],
  aborted: [],
};

export function canRolloutTransition(from: RolloutState, to: RolloutState): boolean {
  return ROLLOUT_NEXT[from].includes(to);
}

const ASSET_NEXT: Record<AssetState, readonly AssetState[]> = {
  pending: ["snapshotting", "skipped"],
  // pending: its queued operation was withdrawn before any host took it (pause-now, a rollback).
  snapshotting: ["applying", "failed", "pending"],
  applying: ["verifying", "failed"],
  verifying: ["done", "failed"],
  done: ["reverting"],
  failed: ["reverting", "skipped", "pending"],
  reverting: ["reverted", "failed"],
  reverted: ["pending"],
  skipped: [],
};

/** `failed → pending` and `reverted → pending` are `rollout retry` (a new attempt). */
export function canAssetTransition(from: AssetState, to: AssetState): boolean {
  return ASSET_NEXT[from].includes(to);
}

export function isRolloutState(value: string): value is RolloutState {
  return (ROLLOUT_STATES as readonly string[]).includes(value);
}

export function isAssetState(value: string): value is AssetState {
  return (ASSET_STATES as readonly string[]).includes(value);
}

/** Deterministic ids: a restart finds what it started (the change id's suffix keeps them readable). */
export function rolloutIdFor(changeId: string): string {
  return `ro-${changeId.replace(/^chg-/, "")}`;
}

export function operationKey(
  changeId: string,
  assetId: string,
  action: OperationAction,
  attempt: number,
): string {
  return `${changeId}/${assetId}/${action}/${attempt}`;
}
