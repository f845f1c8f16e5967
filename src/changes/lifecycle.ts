/**
 * The states of a change request and the transitions between them:
 *
 *   draft → submitted → approved / rejected
 *   approved → scheduled → running → completed
 *   submitted → scheduled          (nothing to approve: the emergency fast path)
 *   draft, submitted, approved, scheduled → cancelled
 *   running ⇄ paused; running | paused → rolling-back → rolled-back | failed
 *   running | paused | rolling-back → aborted;  rolling-back → paused (a rollback paused) → rolling-back
 *
 * The rollout engine owns scheduled → running and what follows: from then on the change mirrors its
 * rollout's state and ends with its outcome. Everything before is the change service's. Pure: the
 * service checks every transition here before it writes one.
 */
import { ConflictError } from "../domain/errors.js";

export const CHANGE_STATES = [
  "draft",
  "submitted",
  "approved",
  "rejected",
  "scheduled",
  "running",
  "paused",
  "rolling-back",
  "completed",
  "rolled-back",
  "failed",
  "aborted",
  "cancelled",
] as const;
export type ChangeState = (typeof CHANGE_STATES)[number];

/**
 * Each action: the state it leads to (named in commands, audit actions `change.<state>` and error
 * messages) and the states it may start from. One table: the transitions are exactly these.
 */
const ACTIONS = {
  submit: { to: "submitted", from: ["draft"] },
  approve: { to: "approved", from: ["submitted"] },
  reject: { to: "rejected", from: ["submitted", "approved"] },
  schedule: { to: "scheduled", from: ["submitted", "approved"] },
  start: { to: "running", from: ["scheduled"] },
  pause: { to: "paused", from: ["running", "rolling-back"] },
  resume: { to: "running", from: ["paused"] },
  "begin-rollback": { to: "rolling-back", from: ["running", "paused"] },
  complete: { to: "completed", from: ["running"] },
  "roll-back": { to: "rolled-back", from: ["running", "rolling-back"] },
  fail: { to: "failed", from: ["running", "paused", "rolling-back"] },
  abort: { to: "aborted", from: ["running", "paused", "rolling-back"] },
  cancel: { to: "cancelled", from: ["draft", "submitted", "approved", "scheduled"] },
} as const satisfies Record<string, { to: ChangeState; from: readonly ChangeState[] }>;
export type ChangeAction = keyof typeof ACTIONS;

/** What each action is called in its target state. */
export const CHANGE_ACTIONS = Object.fromEntries(
  Object.entries(ACTIONS).map(([action, spec]) => [action, spec.to]),
) as { readonly [A in ChangeAction]: (typeof ACTIONS)[A]["to"] };

const ACTION_NAMES = Object.keys(ACTIONS) as ChangeAction[];

export function isChangeState(value: string): value is ChangeState {
  return (CHANGE_STATES as readonly string[]).includes(value);
}

const allows = (action: ChangeAction, from: ChangeState): boolean =>
  (ACTIONS[action].from as readonly ChangeState[]).includes(from);

export function canTransition(from: ChangeState, to: ChangeState): boolean {
  return ACTION_NAMES.some((a) => ACTIONS[a].to === to && allows(a, from));
}

/** No transition leaves these states. */
export function isTerminal(state: ChangeState): boolean {
  return !ACTION_NAMES.some((a) => allows(a, state));
}

/** The states an action may start from. */
export function statesAllowing(action: ChangeAction): ChangeState[] {
  return CHANGE_STATES.filter((s) => allows(action, s));
}

/** The action that moves a change from `from` to `to`, if any (the engine mirrors its rollout so). */
export function actionFor(from: ChangeState, to: ChangeState): ChangeAction | undefined {
  return ACTION_NAMES.find((a) => ACTIONS[a].to === to && allows(a, from));
}

/** The state `action` leads to from `from`; ConflictError naming the current state when it is illegal. */
export function transition(id: string, from: ChangeState, action: ChangeAction): ChangeState {
  if (allows(action, from)) return ACTIONS[action].to;
  const allowed = statesAllowing(action);
  throw new ConflictError(
    `change ${id} is ${from}: cannot ${action} it (only a change that is ${allowed.join(", ")} can be)`,
    { reason: "change.illegal-transition", details: { id, state: from, action, allowedFrom: allowed } },
  );
}
