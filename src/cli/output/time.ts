import { DateTime } from "luxon";
import { outputSettings } from "./settings.js";

/**
 * One instant as tables print it: ISO 8601 to the second with the zone's offset, in the user's zone
 * (TZ, or the system's), a given one (a policy's or a window's), or UTC under --utc.
 * Text that is not an instant is printed as given.
 */
export function formatTime(
  iso: string | null | undefined,
  options: { utc?: boolean; zone?: string } = {},
): string {
  if (iso === null || iso === undefined || iso === "") return "";
  const parsed = DateTime.fromISO(iso, { setZone: true });
  if (!parsed.isValid) return iso;
  const utc = options.utc ?? outputSettings().utc;
  const shown = parsed.setZone(utc ? "utc" : (options.zone ?? "system")).startOf("second");
  return shown.toISO({ suppressMilliseconds: true }) ?? iso;
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
];

/** A compact span as kubectl's AGE column prints it: 45s, 12m, 5h, 3d (hours up to two days). */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 2 * 86_400_000) return `${Math.floor(abs / 86_400_000)}d`;
  for (const [unit, size] of UNITS.slice(1)) if (abs >= size) return `${Math.floor(abs / size)}${unit}`;
  return "0s";
}

/** How far an instant is from now: `3d ago`, `in 2h`, `now` (within a second). */
export function formatAge(iso: string | null | undefined, now: Date = new Date()): string {
  if (iso === null || iso === undefined || iso === "") return "";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = at - now.getTime();
  if (Math.abs(delta) < 1000) return "now";
  return delta < 0 ? `${formatSpan(delta)} ago` : `in ${formatSpan(delta)}`;
}

/** Both, for fields of one object: `2026-12-02T00:00:00+01:00 (in 2h)`. */
export function formatWhen(iso: string | null | undefined, now: Date = new Date()): string {
  if (iso === null || iso === undefined || iso === "") return "";
  const time = formatTime(iso);
  const age = formatAge(iso, now);
  return time === iso && Number.isNaN(Date.parse(iso)) ? iso : `${time} (${age})`;
}
