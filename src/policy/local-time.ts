/**
 * Local wall-clock times in IANA zones. One rule for every window and freeze form, the same rule croner
 * applies to cron fire times, so `cron: "30 2 * * *"`, `at: "02:30"` and `start: "…T02:30"` agree:
 * - a local time that does not exist (spring-forward gap) becomes the first instant after the gap
 *   (02:30 on the Berlin spring-forward day is 03:00 CEST);
 * - a local time that occurs twice (fall back) is the earlier instant (02:30 CEST, not 02:30 CET).
 */
import { DateTime, IANAZone } from "luxon";

/** Wall-clock fields of a local time; month 1–12. */
export interface LocalFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second?: number;
}

const DAY_MS = 86_400_000;

/** True for a known IANA zone name (`Europe/Berlin`, `UTC`). */
export function isValidZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** The known IANA zone names, for "did you mean" hints. */
export function knownZones(): readonly string[] {
  return [...Intl.supportedValuesOf("timeZone"), "UTC"];
}

function offsetMinutes(zone: IANAZone, ms: number): number {
  return zone.offset(ms);
}

/** The instant of a local wall time in `zone` (gap → first instant after it; repeated → earlier one). */
export function localToInstant(fields: LocalFields, zone: string): Date {
  const tz = IANAZone.create(zone);
  if (!tz.isValid) throw new RangeError(`unknown time zone ${JSON.stringify(zone)}`);
  const naive = Date.UTC(
    fields.year,
    fields.month - 1,
    fields.day,
    fields.hour,
    fields.minute,
    fields.second ?? 0,
  );
  // A day either side brackets at most one offset change (zones change offset at most a few times a year).
  const before = offsetMinutes(tz, naive - DAY_MS);
  const after = offsetMinutes(tz, naive + DAY_MS);
  const candidates = [...new Set([before, after])]
    .map((offset) => naive - offset * 60_000)
    .filter((t) => naive - offsetMinutes(tz, t) * 60_000 === t)
    .sort((a, b) => a - b);
  const earliest = candidates[0];
  if (earliest !== undefined) return new Date(earliest);
  // In a gap: find the transition instant by bisection (whole seconds are enough for wall times).
  let lo = naive - before * 60_000 - DAY_MS;
  let hi = naive - after * 60_000 + DAY_MS;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetMinutes(tz, mid) === before) lo = mid;
    else hi = mid;
  }
  return new Date(hi);
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Reads `2026-12-27T22:00`, `2026-12-27T22:00:30` or `2026-12-27` (midnight); undefined when invalid. */
export function parseLocalDateTime(text: string): LocalFields | undefined {
  const m = LOCAL_RE.exec(text.trim());
  if (!m) return undefined;
  const fields: LocalFields = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
  };
  // Reject 2026-02-30 and 25:00 rather than letting them roll over.
  const check = DateTime.fromObject(fields, { zone: "UTC" });
  if (!check.isValid || check.day !== fields.day || check.hour !== fields.hour) return undefined;
  return fields;
}

/** The local wall time `days` calendar days after `date` in `zone`, kept at the same wall-clock time. */
export function shiftLocalDays(date: Date, zone: string, days: number): Date {
  if (days === 0) return date;
  const local = DateTime.fromJSDate(date, { zone });
  const shifted = DateTime.fromObject(
    { year: local.year, month: local.month, day: local.day },
    { zone: "UTC" },
  ).plus({ days });
  return localToInstant(
    {
      year: shifted.year,
      month: shifted.month,
      day: shifted.day,
      hour: local.hour,
      minute: local.minute,
      second: local.second,
    },
    zone,
  );
}

/** ISO 8601 with the offset `zone` has at that instant, e.g. `2026-11-28T01:00:00+01:00` (`Z` for UTC). */
export function formatInZone(date: Date, zone: string): string {
  const text = DateTime.fromJSDate(date, { zone }).toISO({ suppressMilliseconds: true });
  // toISO is null only for an invalid zone or date; fall back to UTC rather than print "null".
  return text ?? date.toISOString();
}
