/**
 * Durations (`30s`, `15m`, `2h`, `7d`, `1d12h`) and amounts (`25%` or a count) as policy files write
 * them. Durations are elapsed time: `1d` is 24 hours, also across a DST change.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

// Units in descending order, each at most once, so `1d12h` reads one way only and `12h1d` is a typo.
// Milliseconds are for health-check intervals and the short observations of test fleets.
const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** The hint every duration error ends with. */
export const DURATION_HINT = "use e.g. 30m, 4h, 2d";

/** True when `text` is a duration this module reads: `0` or units d, h, m, s, ms in that order. */
export function isDuration(text: string): boolean {
  return parseDurationOrUndefined(text) !== undefined;
}

function parseDurationOrUndefined(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  if (trimmed === "") return undefined;
  const m = DURATION_RE.exec(trimmed);
  if (!m) return undefined;
  const [, d, h, min, s, ms] = m;
  return (
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s +
    Number(ms ?? 0)
  );
}

/** Parses `30s`, `15m`, `2h`, `7d`, `1d12h` (or `0`) to milliseconds; throws RangeError otherwise. */
export function parseDuration(text: string | number): number {
  if (typeof text === "number") {
    if (text === 0) return 0;
    throw new RangeError(`${text} is not a duration (${DURATION_HINT})`);
  }
  const ms = parseDurationOrUndefined(text);
  if (ms === undefined) throw new RangeError(`${JSON.stringify(text)} is not a duration (${DURATION_HINT})`);
  return ms;
}

/** Formats milliseconds the way policies write them (`1d12h`, `4h`, `90s` → `1m30s`); `0` for zero. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0";
  // Whole seconds above a minute; below it the milliseconds a short interval was written with.
  let rest = ms >= 60_000 ? Math.round(ms / 1000) * 1000 : Math.round(ms);
  let out = "";
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === "" ? "0" : out;
}

/** A share of a set of assets: a percentage of it or a number of them. */
export type Amount = { kind: "percent"; value: number } | { kind: "count"; value: number };

const PERCENT_RE = /^(\d+(?:\.\d+)?)\s*%$/;

/** Reads `25%` (0–100) or a non-negative whole count (`10` or `"10"`); undefined when it is neither. */
export function parseAmount(value: string | number): Amount | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 0 ? { kind: "count", value } : undefined;
  }
  const text = value.trim();
  const pct = PERCENT_RE.exec(text);
  if (pct) {
    const n = Number(pct[1]);
    return n <= 100 ? { kind: "percent", value: n } : undefined;
  }
  return /^\d+$/.test(text) ? { kind: "count", value: Number(text) } : undefined;
}

/** How many of `total` assets an amount stands for; percentages round up so a non-zero share is never 0. */
export function resolveAmount(amount: Amount, total: number): number {
  if (amount.kind === "count") return Math.min(amount.value, total);
  return Math.min(total, Math.ceil((amount.value / 100) * total));
}
