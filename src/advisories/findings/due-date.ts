/**
 * When a finding must be patched by: its class's SLA in the policy, counted from when it was first seen.
 * `next-window` means by the end of the first maintenance window that opens after it was first seen; an
 * SLA of 0 (immediately) means within the policy's `immediateGrace` (default 4h).
 */
import { nextWindows } from "../../policy/calendar.js";
import { formatDuration } from "../../policy/duration.js";
import { immediateGraceMs, type SlaDeadline } from "../../policy/rules.js";
import type { ChangeClass, Policy } from "../../policy/schema.js";

/** A policy without maintenance windows has no "next window": routine findings are then due this many days after first seen. */
export const ROUTINE_DAYS_WITHOUT_WINDOWS = 30;

const DAY_MS = 86_400_000;

export interface DueDate {
  at: Date;
  /** The rule that set it, as a person reads it. */
  rule: string;
}

/** The due date of a finding of class `cls` whose SLA is `sla`, first seen at `firstSeen`. */
export function dueDate(policy: Policy, cls: ChangeClass, sla: SlaDeadline, firstSeen: Date): DueDate {
  if (sla === 0) {
    // "Immediately" still needs the time to react: without a grace every new finding is overdue when found.
    const grace = immediateGraceMs(policy);
    return {
      at: new Date(firstSeen.getTime() + grace),
      rule:
        grace === 0
          ? `${cls}: immediately (SLA 0)`
          : `${cls}: immediately (SLA 0), with a grace of ${formatDuration(grace)} after first seen`,
    };
  }
  if (sla !== "next-window") {
    return {
      at: new Date(firstSeen.getTime() + sla),
      rule: `${cls}: within ${formatDuration(sla)} of first seen`,
    };
  }
  const fallback = (why: string): DueDate => ({
    at: new Date(firstSeen.getTime() + ROUTINE_DAYS_WITHOUT_WINDOWS * DAY_MS),
    rule: `${cls}: next maintenance window, but ${why}, so within ${ROUTINE_DAYS_WITHOUT_WINDOWS}d of first seen`,
  });
  if (policy.maintenanceWindows.length === 0) return fallback("the policy has no maintenance windows");
  // A window already open when the finding appeared may be about to close: the first one to open after counts.
  const window = nextWindows(policy, firstSeen, 3).find((w) => w.start.getTime() >= firstSeen.getTime());
  if (window === undefined) return fallback("no maintenance window opens (freezes cover them all)");
  return {
    at: window.end,
    rule: `${cls}: by the end of the next maintenance window "${window.name}" (${window.start.toISOString()} – ${window.end.toISOString()})`,
  };
}

/**
 * Due dates for many findings at once: computing the next window takes a calendar walk, and a re-match
 * asks for the same (SLA, first seen) pairs over and over.
 */
export class DueDates {
  readonly #policy: Policy;
  readonly #memo = new Map<SlaDeadline, Map<string, string>>();

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  /** The due date as ISO text. */
  at(cls: ChangeClass, sla: SlaDeadline, firstSeen: string): string {
    let bySeen = this.#memo.get(sla);
    if (bySeen === undefined) {
      bySeen = new Map();
      this.#memo.set(sla, bySeen);
    }
    let due = bySeen.get(firstSeen);
    if (due === undefined) {
      due = dueDate(this.#policy, cls, sla, new Date(firstSeen)).at.toISOString();
      if (bySeen.size > 100_000) bySeen.clear();
      bySeen.set(firstSeen, due);
    }
    return due;
  }
}
