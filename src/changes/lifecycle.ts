/**
 * The states of a change request and the transitions between them:
 *
 *   draft → submitted → approved / rejected
 *   approved → scheduled → running → completed / rolled-back / failed
 *   submitted → scheduled          (nothing to approve: the emergency fast path)
 *   draft, submitted, approved, scheduled → cancelled
 *
 * The rollout engine owns scheduled → running and what follows; everything before is the change
 * service's. Pure: the service checks every transition here before it writes one.
 */
import { ConflictError } from "../domain/errors.js";

export const CHANGE_STATES = [
  "draft",
  "submitted",
  "approved",
  "rejected",
  "scheduled",
  "running",
  "completed",
  "rolled-back",
  "failed",
  "cancelled",
] as const;
export type ChangeState = (typeof CHANGE_STATES)[number];

/** What a transition is called in commands, audit actions (`change.<past>`) and error messages. */
export const CHANGE_ACTIONS = {
  submit: "submitted",
  approve: "approved",
  reject: "rejected",
  schedule: "scheduled",
  start: "running",
  complete: "completed",
  "roll-back": "rolled-back",
  fail: "failed",
  cancel: "cancelled",
} as const satisfies Record<string, ChangeState>;
export type ChangeAction = keyof typeof CHANGE_ACTIONS;

const NEXT: Record<ChangeState, readonly ChangeState[]> = {
  draft: ["submitted", "cancelled"],
  submitted: ["approved", "rejected", "scheduled", "cancelled"],
  approved: ["scheduled", "rejected", "cancelled"],
  rejected: [],
  scheduled: ["running", "cancelled"],
  running: ["completed", "rolled-back", "failed"],
  completed: [],
  "rolled-back": [],
  failed: [],
  cancelled: [],
};

export function isChangeState(value: string): value is ChangeState {
  return (CHANGE_STATES as readonly string[]).includes(value);
}

export function canTransition(from: ChangeState, to: ChangeState): boolean {
  return NEXT[from].includes(to);
}

/** No transition leaves these states. */
export function isTerminal(state: ChangeState): boolean {
  return NEXT[state].length === 0;
}

/** The states an action may start from. */
export function statesAllowing(action: ChangeAction): ChangeState[] {
  const to = CHANGE_ACTIONS[action];
  return CHANGE_STATES.filter((s) => NEXT[s].includes(to));
}

/** The state `action` leads to from `from`; ConflictError naming the current state when it is illegal. */
export function transition(id: string, from: ChangeState, action: ChangeAction): ChangeState {
  const to = CHANGE_ACTIONS[action];
  if (canTransition(from, to)) return to;
  const allowed = statesAllowing(action);
  throw new ConflictError(
    `change ${id} is ${from}: cannot ${action} it (only a change that is ${allowed.join(", ")} can be)`,
    { reason: "change.illegal-transition", details: { id, state: from, action, allowedFrom: allowed } },
  );
}
