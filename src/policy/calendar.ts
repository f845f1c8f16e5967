/**
 * Maintenance windows and freezes on the calendar: when the next windows open (freezes cut out), and
 * whether a change may start at a given instant.
 *
 * Time rules (see local-time.ts): cron fire times are computed by croner in the item's zone; a window
 * lasts its `duration` of elapsed time, also across a DST change (a 4h window over the change is 4h
 * long, its local end hour shifts); `offsetDays` adds calendar days keeping the local wall time; a local
 * start in a spring-forward gap moves to the first instant after the gap, a repeated local time (fall
 * back) is the earlier instant, the same as croner does for cron patterns.
 */
import { Cron } from "croner";
import { parseDuration } from "./duration.js";
import { formatInZone, localToInstant, parseLocalDateTime, shiftLocalDays } from "./local-time.js";
import type { Freeze, MaintenanceWindow, Policy } from "./schema.js";

/** One opening of a maintenance window, already trimmed by freezes. */
export interface WindowOccurrence {
  name: string;
  start: Date;
  end: Date;
  /** The window's zone, to show start and end in local time. */
  timezone: string;
  /** What a rollout does when this opening closes. */
  onClose: MaintenanceWindow["onClose"];
}

/** One period of a freeze. */
export interface FreezeOccurrence {
  name: string;
  start: Date;
  end: Date;
  timezone: string;
  allowEmergencyOverride: boolean;
}

export interface StartOptions {
  emergency?: boolean;
  justification?: string;
  approver?: string;
}

export interface StartDecision {
  allowed: boolean;
  /** The rule that decided, e.g. `inside window "sat-night" until 2026-11-28T05:00:00+01:00`. */
  reason: string;
  window?: string;
  freeze?: string;
  /** When the deciding window closes or the deciding freeze ends. */
  until?: Date;
}

interface Span {
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;
// Bounds so a policy whose freezes cover every window (or a pattern that never fires) cannot loop forever.
const HORIZON_MS = 20 * 366 * DAY_MS;
const MAX_RAW_WINDOWS = 50_000;

// ---- spans of one rule -------------------------------------------------------------------------------

function cronFor(item: { cron?: string; days?: string[]; at?: string }): string | undefined {
  if (item.cron !== undefined) return item.cron;
  if (item.days !== undefined && item.at !== undefined) {
    const [hour, minute] = item.at.split(":").map(Number);
    return `${minute} ${hour} * * ${item.days.map((d) => d.toUpperCase()).join(",")}`;
  }
  return undefined;
}

/** Spans of a cron rule in start order, from the first one that is still open at `fromMs`. */
function* cronSpans(pattern: string, zone: string, durationMs: number, offsetDays: number, fromMs: number) {
  const cron = new Cron(pattern, { timezone: zone, mode: "5-part" });
  // A span open at `fromMs` fired at most its duration (plus the day offset and a DST hour) earlier.
  let ref = new Date(fromMs - durationMs - (Math.abs(offsetDays) + 1) * DAY_MS);
  for (;;) {
    const fire = cron.nextRun(ref);
    if (fire === null) return;
    ref = fire;
    const start = shiftLocalDays(fire, zone, offsetDays).getTime();
    if (start + durationMs > fromMs) yield { start, end: start + durationMs } satisfies Span;
  }
}

function* windowSpans(w: MaintenanceWindow, fromMs: number): Generator<Span> {
  const durationMs = parseDuration(w.duration);
  if (w.start !== undefined) {
    const local = parseLocalDateTime(w.start);
    if (local === undefined) return;
    const start = localToInstant(local, w.timezone).getTime();
    if (start + durationMs > fromMs) yield { start, end: start + durationMs };
    return;
  }
  const pattern = cronFor(w);
  if (pattern !== undefined) yield* cronSpans(pattern, w.timezone, durationMs, w.offsetDays ?? 0, fromMs);
}

function* freezeSpans(f: Freeze, fromMs: number): Generator<Span> {
  if (f.from !== undefined && f.to !== undefined) {
    const from = parseLocalDateTime(f.from);
    const to = parseLocalDateTime(f.to);
    if (from === undefined || to === undefined) return;
    const span = {
      start: localToInstant(from, f.timezone).getTime(),
      end: localToInstant(to, f.timezone).getTime(),
    };
    if (span.end > fromMs) yield span;
    return;
  }
  if (f.cron !== undefined && f.duration !== undefined) {
    yield* cronSpans(f.cron, f.timezone, parseDuration(f.duration), 0, fromMs);
  }
}

// ---- freezes -----------------------------------------------------------------------------------------

/** Freeze periods that overlap [from, to), in start order. */
export function freezesBetween(policy: Policy, from: Date, to: Date): FreezeOccurrence[] {
  const fromMs = from.getTime();
  const toMs = to.getTime();
  const out: FreezeOccurrence[] = [];
  for (const f of policy.freezes) {
    for (const span of freezeSpans(f, fromMs)) {
      if (span.start >= toMs) break;
      if (span.end > fromMs) {
        out.push({
          name: f.name,
          start: new Date(span.start),
          end: new Date(span.end),
          timezone: f.timezone,
          allowEmergencyOverride: f.allowEmergencyOverride,
        });
      }
    }
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime() || a.name.localeCompare(b.name));
}

/** Freeze periods in effect at `at` (start inclusive, end exclusive). */
export function activeFreezes(policy: Policy, at: Date): FreezeOccurrence[] {
  return freezesBetween(policy, at, new Date(at.getTime() + 1)).filter(
    (f) => f.start.getTime() <= at.getTime(),
  );
}

/** The parts of `span` no freeze covers. */
function subtract(span: Span, freezes: readonly FreezeOccurrence[]): Span[] {
  let pieces: Span[] = [span];
  for (const f of freezes) {
    const fs = f.start.getTime();
    const fe = f.end.getTime();
    pieces = pieces.flatMap((p) => {
      if (fe <= p.start || fs >= p.end) return [p];
      const parts: Span[] = [];
      if (fs > p.start) parts.push({ start: p.start, end: fs });
      if (fe < p.end) parts.push({ start: fe, end: p.end });
      return parts;
    });
  }
  return pieces;
}

function openings(policy: Policy, w: MaintenanceWindow, span: Span): WindowOccurrence[] {
  const freezes = freezesBetween(policy, new Date(span.start), new Date(span.end));
  return subtract(span, freezes).map((p) => ({
    name: w.name,
    start: new Date(p.start),
    end: new Date(p.end),
    timezone: w.timezone,
    onClose: w.onClose,
  }));
}

// ---- windows -----------------------------------------------------------------------------------------

const byStart = (a: WindowOccurrence, b: WindowOccurrence): number =>
  a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime() || a.name.localeCompare(b.name);

/**
 * The next `count` window openings that end after `from`, in start order. A window open at `from` is
 * included with its real start; freezes trim windows (a freeze inside one splits it in two) and windows
 * a freeze covers entirely are left out. A policy without windows has none (it allows any time).
 */
export function nextWindows(policy: Policy, from: Date, count: number): WindowOccurrence[] {
  if (count <= 0 || policy.maintenanceWindows.length === 0) return [];
  const fromMs = from.getTime();
  const sources = policy.maintenanceWindows.map((w) => {
    const spans = windowSpans(w, fromMs);
    return { window: w, spans, head: spans.next() };
  });
  const found: WindowOccurrence[] = [];
  for (let scanned = 0; scanned < MAX_RAW_WINDOWS; scanned++) {
    let source: (typeof sources)[number] | undefined;
    for (const s of sources) {
      if (s.head.done) continue;
      if (source === undefined || s.head.value.start < (source.head.value as Span).start) source = s;
    }
    if (source === undefined || source.head.done) break;
    const span = source.head.value;
    if (span.start > fromMs + HORIZON_MS) break;
    // Every later opening starts at or after this raw start, so once `count` openings start no later,
    // the answer is settled.
    if (found.length >= count) {
      found.sort(byStart);
      const last = found[count - 1];
      if (last !== undefined && last.start.getTime() <= span.start) break;
    }
    source.head = source.spans.next();
    for (const o of openings(policy, source.window, span)) if (o.end.getTime() > fromMs) found.push(o);
  }
  return found.sort(byStart).slice(0, count);
}

/** The window opening (freezes cut out) that contains `at`, the one open longest if several do. */
export function windowAt(policy: Policy, at: Date): WindowOccurrence | undefined {
  const atMs = at.getTime();
  let best: WindowOccurrence | undefined;
  for (const w of policy.maintenanceWindows) {
    for (const span of windowSpans(w, atMs)) {
      if (span.start > atMs) break;
      for (const o of openings(policy, w, span)) {
        if (o.start.getTime() <= atMs && atMs < o.end.getTime() && (!best || o.end > best.end)) best = o;
      }
    }
  }
  return best;
}

// ---- may a change start? -----------------------------------------------------------------------------

const present = (s: string | undefined): s is string => s !== undefined && s.trim() !== "";

/**
 * Whether a change may start at `at`: inside a window (anywhere when the policy has none) and outside
 * every freeze. An emergency with a justification and an approver may override a freeze that allows it
 * and is not held to windows (its SLA is "immediately"); recording and enforcing that is the change
 * service's job, this only states the rule.
 */
export function checkStart(policy: Policy, at: Date, opts: StartOptions = {}): StartDecision {
  const emergency = opts.emergency === true;
  const missing = [
    ...(present(opts.justification) ? [] : ["justification"]),
    ...(present(opts.approver) ? [] : ["approver"]),
  ];
  const overrideNote = `approved by "${opts.approver ?? ""}": ${opts.justification ?? ""}`;

  const frozen = activeFreezes(policy, at);
  if (frozen.length > 0) {
    const last = frozen.reduce((a, b) => (b.end > a.end ? b : a));
    const frozenText = `frozen by "${last.name}" until ${formatInZone(last.end, last.timezone)}`;
    const deny = (reason: string, f: FreezeOccurrence) => ({
      allowed: false,
      reason,
      freeze: f.name,
      until: f.end,
    });
    if (!emergency) return deny(frozenText, last);
    const locked = frozen.find((f) => !f.allowEmergencyOverride);
    if (locked) {
      return deny(
        `frozen by "${locked.name}" until ${formatInZone(locked.end, locked.timezone)}, which allows no emergency override`,
        locked,
      );
    }
    if (missing.length > 0) {
      return deny(`${frozenText}; an emergency override needs a ${missing.join(" and an ")}`, last);
    }
    const names = frozen.map((f) => `"${f.name}"`).join(", ");
    return {
      allowed: true,
      reason: `emergency override of freeze ${names}, ${overrideNote}`,
      freeze: last.name,
    };
  }

  if (policy.maintenanceWindows.length === 0) {
    return { allowed: true, reason: "the policy has no maintenance windows and no freeze is in effect" };
  }
  const open = windowAt(policy, at);
  if (open) {
    return {
      allowed: true,
      reason: `inside window "${open.name}" until ${formatInZone(open.end, open.timezone)}`,
      window: open.name,
      until: open.end,
    };
  }
  if (emergency && missing.length === 0) {
    return { allowed: true, reason: `emergency change outside the maintenance windows, ${overrideNote}` };
  }
  const next = nextWindows(policy, at, 1)[0];
  const nextText = next
    ? `next is "${next.name}" at ${formatInZone(next.start, next.timezone)}`
    : "no window opens in the future";
  const emergencyText = emergency
    ? `; an emergency start outside a window needs a ${missing.join(" and an ")}`
    : "";
  return { allowed: false, reason: `outside every maintenance window; ${nextText}${emergencyText}` };
}
