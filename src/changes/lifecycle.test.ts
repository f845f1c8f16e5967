import { describe, expect, it } from "vitest";
import {
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
  ] as const)("%s applies from %j", (action, states) => {
    expect(statesAllowing(action)).toEqual(states);
  });

  it("terminal states have no way out", () => {
    expect(CHANGE_STATES.filter(isTerminal)).toEqual([
      "rejected",
      "completed",
      "rolled-back",
      "failed",
      "cancelled",
    ]);
    expect(canTransition("completed", "running")).toBe(false);
  });
});
