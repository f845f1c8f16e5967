/**
 * Whether a version is affected, as the OSV schema's "Evaluation" section specifies it (docs/schema.md):
 * the explicit `versions` list, then every SEMVER and ECOSYSTEM range. GIT ranges need the repository's
 * commit graph and are not evaluated here.
 */
import { ValidationError } from "../../domain/errors.js";
import type { VersionScheme } from "../../ecosystems/scheme.js";
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from "./schema.js";

type EventKind = "introduced" | "fixed" | "last_affected" | "limit";

interface RangeEvent {
  kind: EventKind;
  version: string;
}

function toRangeEvent(event: OsvEvent): RangeEvent {
  if ("introduced" in event) return { kind: "introduced", version: event.introduced };
  if ("fixed" in event) return { kind: "fixed", version: event.fixed };
  if ("last_affected" in event) return { kind: "last_affected", version: event.last_affected };
  return { kind: "limit", version: event.limit };
}

/** `introduced: "0"` sorts before every version; a `limit` containing `*` is infinity. */
function isSpecial(event: RangeEvent): boolean {
  return (
    (event.kind === "introduced" && event.version === "0") ||
    (event.kind === "limit" && event.version.includes("*"))
  );
}

/**
 * `where` is unset for the installed version and is the event's JSON pointer inside the affected[]
 * entry for a record's own bad version, so the caller can tell its input from a bad advisory.
 */
function assertVersion(scheme: VersionScheme, version: string, what: string, where?: string): void {
  if (!scheme.isValid(version)) {
    throw new ValidationError(`${what} "${version}" is not a valid ${scheme.id} version`, {
      ...(where === undefined ? {} : { where }),
      details: { scheme: scheme.id, version, source: where === undefined ? "installed" : "advisory" },
    });
  }
}

/** The range's events with each version checked against the scheme, so a bad record names its event. */
function eventsOf(range: OsvRange, rangeIndex: number, scheme: VersionScheme): RangeEvent[] {
  const events = range.events.map(toRangeEvent);
  events.forEach((e, i) => {
    if (!isSpecial(e))
      assertVersion(scheme, e.version, `${e.kind} version`, `/ranges/${rangeIndex}/events/${i}`);
  });
  return events;
}

/** Sorted by version, `introduced: "0"` first; the sort is stable, so ties keep the record's order. */
function sortEvents(events: RangeEvent[], scheme: VersionScheme): RangeEvent[] {
  return [...events].sort((a, b) => {
    const aZero = a.kind === "introduced" && a.version === "0";
    const bZero = b.kind === "introduced" && b.version === "0";
    if (aZero || bZero) return aZero === bZero ? 0 : aZero ? -1 : 1;
    return scheme.compare(a.version, b.version);
  });
}

function isEvaluated(range: OsvRange): boolean {
  return range.type === "SEMVER" || range.type === "ECOSYSTEM";
}

/**
 * The answer for the shape nearly every distribution advisory has, `introduced: "0"` alone or followed
 * by one `fixed`, without building, filtering and sorting the event list (matching a fleet evaluates
 * such a range a million times); undefined for any other shape. The answer and a bad fixed version's
 * error are the general evaluation's.
 */
function introducedAtZero(
  range: OsvRange,
  rangeIndex: number,
  version: string,
  scheme: VersionScheme,
): boolean | undefined {
  const events = range.events;
  const first = events[0];
  if (first === undefined || events.length > 2 || !("introduced" in first) || first.introduced !== "0")
    return undefined;
  const second = events[1];
  if (second === undefined) return true;
  if ("introduced" in second || !("fixed" in second)) return undefined;
  assertVersion(scheme, second.fixed, "fixed version", `/ranges/${rangeIndex}/events/1`);
  return scheme.compare(version, second.fixed) < 0;
}

// SEMVER ranges are compared with the ecosystem's scheme too: the ecosystems that publish SEMVER ranges
// (Go, crates.io, npm, …) order versions by SemVer 2.0 already.
function includedInRange(
  range: OsvRange,
  rangeIndex: number,
  version: string,
  scheme: VersionScheme,
): boolean {
  const fast = introducedAtZero(range, rangeIndex, version, scheme);
  if (fast !== undefined) return fast;
  const events = eventsOf(range, rangeIndex, scheme);
  const limits = events.filter((e) => e.kind === "limit");
  const beforeLimits =
    limits.length === 0 || limits.some((l) => isSpecial(l) || scheme.compare(version, l.version) < 0);
  if (!beforeLimits) return false;
  let vulnerable = false;
  for (const e of sortEvents(
    events.filter((x) => x.kind !== "limit"),
    scheme,
  )) {
    if (e.kind === "introduced") {
      if (e.version === "0" || scheme.compare(version, e.version) >= 0) vulnerable = true;
    } else if (e.kind === "fixed") {
      if (scheme.compare(version, e.version) >= 0) vulnerable = false;
    } else if (e.kind === "last_affected") {
      if (scheme.compare(version, e.version) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

// The spec compares `versions` entries by string; an entry the scheme orders equal (PyPI "1.0" and
// "1.0.0") also matches. Entries the scheme rejects (upstream git tags) only match exactly.
function includedInVersions(versions: readonly string[], version: string, scheme: VersionScheme): boolean {
  return versions.some((v) => v === version || (scheme.isValid(v) && scheme.compare(v, version) === 0));
}

/**
 * True when `version` is affected by this `affected[]` entry. Throws ValidationError when `version`
 * (no `where`, `details.source` "installed") or a range event version (`where` = the event's pointer
 * inside the entry, `details.source` "advisory") is not valid for `scheme`.
 */
export function isAffected(affected: OsvAffected, version: string, scheme: VersionScheme): boolean {
  assertVersion(scheme, version, "version");
  if (includedInVersions(affected.versions ?? [], version, scheme)) return true;
  return (affected.ranges ?? []).some((r, i) => isEvaluated(r) && includedInRange(r, i, version, scheme));
}

function asList(affected: OsvAffected | readonly OsvAffected[]): readonly OsvAffected[] {
  return Array.isArray(affected) ? affected : [affected as OsvAffected];
}

/**
 * Every `fixed` version above `version` in the SEMVER and ECOSYSTEM ranges of the entry (or of
 * several entries for one package, as GHSA writes one entry per range), lowest first, without
 * duplicates.
 */
export function fixedVersionsAbove(
  affected: OsvAffected | readonly OsvAffected[],
  version: string,
  scheme: VersionScheme,
): string[] {
  assertVersion(scheme, version, "version");
  const found: string[] = [];
  for (const entry of asList(affected)) {
    for (const [i, range] of (entry.ranges ?? []).entries()) {
      if (!isEvaluated(range)) continue;
      for (const e of eventsOf(range, i, scheme)) {
        if (e.kind !== "fixed" || scheme.compare(e.version, version) <= 0) continue;
        if (!found.some((f) => scheme.compare(f, e.version) === 0)) found.push(e.version);
      }
    }
  }
  return found.sort((a, b) => scheme.compare(a, b));
}

/**
 * The lowest fixed version above `version` that no given entry still marks affected, or null when
 * there is no fix yet (only `last_affected`, open ranges, or every later fix is itself affected).
 * Pass every `affected[]` entry of the record that names the package.
 */
export function lowestFixedAbove(
  affected: OsvAffected | readonly OsvAffected[],
  version: string,
  scheme: VersionScheme,
): string | null {
  const entries = asList(affected);
  for (const candidate of fixedVersionsAbove(entries, version, scheme)) {
    if (!entries.some((entry) => isAffected(entry, candidate, scheme))) return candidate;
  }
  return null;
}

/** Number of GIT ranges in the record: those are skipped by the evaluator and worth reporting. */
export function countGitRanges(record: OsvRecord): number {
  let count = 0;
  for (const entry of record.affected ?? []) {
    for (const range of entry.ranges ?? []) if (range.type === "GIT") count += 1;
  }
  return count;
}
