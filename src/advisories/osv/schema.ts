/**
 * OSV 1.7 records (ossf/osv-schema validation/schema.json), as one zod schema: the types below are
 * inferred from it. Deliberate differences from the JSON schema are commented where they are made.
 */
import { z } from "zod";
import { jsonPointer, ValidationError } from "../../domain/errors.js";

/** RFC 3339 UTC timestamp as the OSV schema's `timestamp` pattern has it (a `Z` suffix, optional fraction). */
const timestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, "must be an RFC 3339 UTC timestamp ending in Z");

const jsonObject = z.record(z.string(), z.unknown());

/** `null` and a missing key mean the same; callers see only `undefined`. */
function nullableList<T extends z.ZodType>(item: T) {
  return z
    .array(item)
    .nullable()
    .transform((v) => v ?? undefined)
    .optional();
}

export const SEVERITY_TYPES = ["CVSS_V2", "CVSS_V3", "CVSS_V4", "Ubuntu"] as const;

// The score stays a plain string: cvss.ts reports a bad vector naming the metric, and one bad vector
// must not hide the record's affected ranges.
const severity = z.object({
  type: z.enum(SEVERITY_TYPES),
  score: z.string().min(1),
});

export const RANGE_TYPES = ["GIT", "SEMVER", "ECOSYSTEM"] as const;

const EVENT_ERROR = "each event must have exactly one of introduced, fixed, last_affected, limit";
const event = z.union(
  [
    z.strictObject({ introduced: z.string().min(1) }),
    z.strictObject({ fixed: z.string().min(1) }),
    z.strictObject({ last_affected: z.string().min(1) }),
    z.strictObject({ limit: z.string().min(1) }),
  ],
  { error: EVENT_ERROR },
);

// GIT event values are any string, not the schema's full-hash pattern: 7 PYSEC records carry short
// hashes or `.patch` names there, and GIT ranges are never evaluated here anyway.
const range = z
  .object({
    type: z.enum(RANGE_TYPES),
    repo: z.string().min(1).optional(),
    events: z.array(event).min(1, "events must not be empty"),
    database_specific: jsonObject.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.type === "GIT" && r.repo === undefined) {
      ctx.addIssue({ code: "custom", message: "GIT ranges require a repo", path: ["repo"] });
    }
    if (!r.events.some((e) => "introduced" in e)) {
      ctx.addIssue({ code: "custom", message: "events must contain an introduced event", path: ["events"] });
    }
    const fixed = r.events.findIndex((e) => "fixed" in e);
    const lastAffected = r.events.findIndex((e) => "last_affected" in e);
    if (fixed !== -1 && lastAffected !== -1) {
      ctx.addIssue({
        code: "custom",
        message: "last_affected and fixed events are mutually exclusive",
        path: ["events", Math.max(fixed, lastAffected)],
      });
    }
  });

// The ecosystem is any non-empty string, not the schema's fixed list: the list grows with minor schema
// releases, and the version-scheme registry reports an unknown one as "unsupported" when evaluated.
const affected = z.object({
  package: z.object({
    ecosystem: z.string().min(1),
    name: z.string().min(1),
    purl: z.string().optional(),
  }),
  severity: nullableList(severity),
  ranges: z.array(range).optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: jsonObject.optional(),
  database_specific: jsonObject.optional(),
});

export const REFERENCE_TYPES = [
  "ADVISORY",
  "ARTICLE",
  "DETECTION",
  "DISCUSSION",
  "REPORT",
  "FIX",
  "INTRODUCED",
  "GIT",
  "PACKAGE",
  "EVIDENCE",
  "WEB",
] as const;

export const CREDIT_TYPES = [
  "FINDER",
  "REPORTER",
  "ANALYST",
  "COORDINATOR",
  "REMEDIATION_DEVELOPER",
  "REMEDIATION_REVIEWER",
  "REMEDIATION_VERIFIER",
  "TOOL",
  "SPONSOR",
  "OTHER",
] as const;

// Unknown top-level keys are dropped, not rejected (the schema says additionalProperties: false): the
// spec tells clients to ignore fields that newer minor schema versions add. The id is any non-empty
// string for the same reason as the ecosystem (the prefix list grows).
export const osvRecordSchema = z
  .object({
    schema_version: z.string().optional(),
    id: z.string().min(1),
    modified: timestamp,
    published: timestamp.optional(),
    withdrawn: timestamp.optional(),
    aliases: nullableList(z.string()),
    related: z.array(z.string()).optional(),
    upstream: z.array(z.string()).optional(),
    summary: z.string().optional(),
    details: z.string().optional(),
    severity: nullableList(severity),
    affected: nullableList(affected),
    references: nullableList(z.object({ type: z.enum(REFERENCE_TYPES), url: z.string().min(1) })),
    credits: z
      .array(
        z.object({
          name: z.string(),
          contact: z.array(z.string()).optional(),
          type: z.enum(CREDIT_TYPES).optional(),
        }),
      )
      .optional(),
    database_specific: jsonObject.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.severity === undefined) return;
    r.affected?.forEach((a, i) => {
      if (a.severity !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: "affected[].severity must not be set when the top-level severity is",
          path: ["affected", i, "severity"],
        });
      }
    });
  });

export type OsvRecord = z.output<typeof osvRecordSchema>;
export type OsvAffected = NonNullable<OsvRecord["affected"]>[number];
export type OsvRange = NonNullable<OsvAffected["ranges"]>[number];
export type OsvEvent = OsvRange["events"][number];
export type OsvSeverity = NonNullable<OsvRecord["severity"]>[number];

export interface OsvLocation {
  /** The file (or `file:line`, `archive.zip!entry.json`) the record came from. */
  file: string;
  /** JSON pointer of the record inside the file, for a record inside an array: `/3`. */
  pointerBase?: string;
}

/** `file#/json/pointer`, or `file` alone for the record root. */
export function pointerWhere(where: OsvLocation, path: ReadonlyArray<PropertyKey>): string {
  const base = where.pointerBase ?? "";
  const pointer = path.length === 0 ? base : `${base}${jsonPointer(path)}`;
  return pointer === "" ? where.file : `${where.file}#${pointer}`;
}

/**
 * Validates one OSV record. Throws ValidationError whose `where` is `file#/pointer` of the first
 * problem; `details.issues` lists every problem found.
 */
export function parseOsvRecord(value: unknown, where: OsvLocation): OsvRecord {
  const result = osvRecordSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    where: pointerWhere(where, issue.path),
    message: issue.message,
  }));
  const first = issues[0] ?? { where: pointerWhere(where, []), message: "invalid OSV record" };
  const id = typeof value === "object" && value !== null && "id" in value ? String(value.id) : undefined;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw new ValidationError(
    `invalid OSV record${id === undefined ? "" : ` ${id}`}: ${first.message}${more}`,
    {
      where: first.where,
      details: { issues, ...(id === undefined ? {} : { id }) },
    },
  );
}

/**
 * The other ids of a record's vulnerability: its aliases, and its `upstream` ids (a Debian DSA names
 * the CVEs it fixes there, not in `aliases`). Known-exploited and EPSS facts are keyed by CVE, so a
 * DSA-keyed finding reaches them only through these.
 */
export function relatedIds(record: Pick<OsvRecord, "aliases" | "upstream">): string[] {
  return [...new Set([...(record.aliases ?? []), ...(record.upstream ?? [])])];
}
