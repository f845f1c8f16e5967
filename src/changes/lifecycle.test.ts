import { describe, expect, it } from "vitest";
import {
  actionFor,
  CHANGE_ACTIONS,
  CHANGE_STATES,
  type ChangeAction,
  type ChangeState,
  canTransition,
  isTerminal,
  statesAllowing,
  transition,
} from "./lifecycle.js";

const LEGAL: ReadonlyArray<readonly [ChangeState, ChangeAction, ChangeState]> = [
  ["draft", "submit", "submitted"],
  ["draft", "cancel", "cancelled"],
  ["submitted", "approve", "approved"],
  ["submitted", "reject", "rejected"],
  ["submitted", "schedule", "scheduled"],
  ["submitted", "cancel", "cancelled"],
  ["approved", "schedule", "scheduled"],
  ["approved", "reject", "rejected"],
  ["approved", "cancel", "cancelled"],
  ["scheduled", "start", "running"],
  ["scheduled", "cancel", "cancelled"],
  ["running", "complete", "completed"],
  ["running", "roll-back", "rolled-back"],
  ["running", "fail", "failed"],
  ["running", "pause", "paused"],
  ["running", "begin-rollback", "rolling-back"],
  ["running", "abort", "aborted"],
  ["paused", "resume", "running"],
  ["paused", "begin-rollback", "rolling-back"],
  ["paused", "fail", "failed"],
  ["paused", "abort", "aborted"],
  ["rolling-back", "roll-back", "rolled-back"],
  ["rolling-back", "fail", "failed"],
  ["rolling-back", "pause", "paused"],
  ["rolling-back", "abort", "aborted"],
];

describe("change lifecycle", () => {
  it.each(LEGAL)("%s --%s--> %s", (from, action, to) => {
    expect(transition("chg-1", from, action)).toBe(to);
  });

  it("rejects every other transition with a conflict naming the current state", () => {
    const legal = new Set(LEGAL.map(([from, action]) => `${from}/${action}`));
    let illegal = 0;
    for (const from of CHANGE_STATES) {
      for (const action of Object.keys(CHANGE_ACTIONS) as ChangeAction[]) {
        if (legal.has(`${from}/${action}`)) continue;
        illegal += 1;
        expect(() => transition("chg-1", from, action)).toThrow(
          expect.objectContaining({ code: "conflict", message: expect.stringContaining(`is ${from}`) }),
        );
      }
    }
    expect(illegal).toBeGreaterThan(60);
  });

  it.each([
    ["cancel", ["draft", "submitted", "approved", "scheduled"]],
    ["submit", ["draft"]],
    ["start", ["scheduled"]],
    ["resume", ["paused"]],
    ["abort", ["running", "paused", "rolling-back"]],
  ] as const)("%s applies from %j", (action, states) => {
    expect(statesAllowing(action)).toEqual(states);
  });

  it("terminal states have no way out", () => {
    expect(CHANGE_STATES.filter(isTerminal)).toEqual([
      "rejected",
      "completed",
      "rolled-back",
      "failed",
      "aborted",
      "cancelled",
    ]);
    expect(canTransition("completed", "running")).toBe(false);
  });

  it("the change can follow each step its rollout takes", () => {
    const walks: ChangeState[][] = [
      ["scheduled", "running", "paused", "running", "completed"],
      ["running", "rolling-back", "paused", "rolling-back", "rolled-back"],
      ["running", "paused", "rolling-back", "failed"],
      ["running", "rolling-back", "aborted"],
    ];
    for (const walk of walks) {
      for (let i = 1; i < walk.length; i++) {
        const from = walk[i - 1] as ChangeState;
        const to = walk[i] as ChangeState;
        const action = actionFor(from, to);
        expect(action, `${from} → ${to}`).toBeDefined();
        expect(transition("chg-1", from, action as ChangeAction)).toBe(to);
      }
    }
    expect(actionFor("completed", "running")).toBeUndefined();
  });
});
