/** Whether a rollout may start new work now, and what the window that closed asks of it. */
import { checkStart, nextWindows, type StartOptions } from "../policy/calendar.js";
import type { Policy } from "../policy/schema.js";
import type { CalendarDecision } from "./view.js";

const LOOKBACK_MS = 8 * 86_400_000;
const MAX_OPENINGS = 2000;

/** The window opening (freezes cut out) that ended last, at or before `now`. */
function lastClosed(policy: Policy, now: Date) {
  const openings = nextWindows(policy, new Date(now.getTime() - LOOKBACK_MS), MAX_OPENINGS);
  let last: (typeof openings)[number] | undefined;
  for (const o of openings) {
    if (o.end.getTime() <= now.getTime() && (last === undefined || o.end > last.end)) last = o;
  }
  return last;
}

/**
 * checkStart's rule (windows, freezes, the emergency override) at `now`. When it says no, the closed
 * window's `onClose` (finish-in-flight unless that window says pause-now; a freeze cuts the window it
 * falls in, so its onClose applies too).
 */
export function calendarDecision(policy: Policy, now: Date, options: StartOptions): CalendarDecision {
  const decision = checkStart(policy, now, options);
  if (decision.allowed) return { allowed: true, reason: decision.reason, onClose: "finish-in-flight" };
  const closed = policy.maintenanceWindows.length === 0 ? undefined : lastClosed(policy, now);
  return { allowed: false, reason: decision.reason, onClose: closed?.onClose ?? "finish-in-flight" };
}
