/** When a suppression (an accepted risk, a not-affected statement) ends: an ISO 8601 time or a duration from now, in the future, at most a year away. */
import { DateTime } from "luxon";
import { reasonError, ValidationError } from "../../domain/errors.js";
import { isDuration, parseDuration } from "../../policy/duration.js";

/**
 * Parses `2027-01-31`, `2027-01-31T12:00:00Z` (a date alone is midnight UTC) or a duration such as
 * `30d` or `12h` counted from `now`. Throws ValidationError at `where` when it is neither, not in the
 * future, or more than one calendar year after `now`.
 */
export function parseExpiry(text: string, now: Date, where = "/expiresAt"): Date {
  const trimmed = text.trim();
  let at: Date;
  if (isDuration(trimmed)) {
    at = new Date(now.getTime() + parseDuration(trimmed));
  } else {
    const parsed = DateTime.fromISO(trimmed, { zone: "utc" });
    if (!parsed.isValid) {
      throw new ValidationError(
        `"${text}" is neither an ISO 8601 time (2027-01-31, 2027-01-31T12:00:00Z) nor a duration such as 30d`,
        { where },
      );
    }
    at = parsed.toJSDate();
  }
  if (at.getTime() <= now.getTime()) {
    throw reasonError("findings.date-in-past", `the date ${at.toISOString()} is not in the future`, {
      where,
    });
  }
  const limit = DateTime.fromJSDate(now, { zone: "utc" }).plus({ years: 1 }).toJSDate();
  if (at.getTime() > limit.getTime()) {
    throw reasonError(
      "findings.date-too-far",
      `a finding may be suppressed for at most one year (until ${limit.toISOString()}), not until ${at.toISOString()}`,
      { where },
    );
  }
  return at;
}
