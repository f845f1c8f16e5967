/**
 * EPSS scores from FIRST's daily CSV (`#model_version:…,score_date:…` then `cve,epss,percentile`) or
 * from the KEV_EPSS CSVs (`CVE,CVSS3,EPSS,EPSS Percentile,Description,Vendor,Product`).
 */
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { ValidationError } from "../domain/errors.js";

export interface EpssEntry {
  cve: string;
  /** Probability of exploitation activity in the next 30 days, 0..1. */
  epss: number;
  /** Rank among all scored CVEs, 0..1. */
  percentile: number;
  /** NVD CVSS v3 base score, when the file has one. */
  cvss3?: number;
  modelVersion?: string;
  scoreDate?: string;
}

/** Header names as each file spells them, to the field they fill. */
const COLUMNS: Record<string, keyof EpssEntry> = {
  cve: "cve",
  epss: "epss",
  percentile: "percentile",
  "epss percentile": "percentile",
  cvss3: "cvss3",
};

const number = (label: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, `${label} is missing`)
    .transform(Number)
    .refine((n) => Number.isFinite(n) && n >= 0 && n <= max, `${label} must be a number from 0 to ${max}`);

const rowSchema = z.object({
  cve: z
    .string()
    .trim()
    .regex(/^CVE-\d{4}-\d{4,}$/, "cve must be a CVE id CVE-YYYY-NNNN"),
  epss: number("epss", 1),
  percentile: number("percentile", 1),
  cvss3: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === "" ? undefined : v))
    .pipe(number("cvss3", 10).optional()),
});

/** `#model_version:v2025.03.14,score_date:2025-08-26T00:00:00+0000` → its two values. */
function parseComment(line: string): { modelVersion?: string; scoreDate?: string } {
  const out: { modelVersion?: string; scoreDate?: string } = {};
  for (const pair of line.replace(/^#/, "").split(",")) {
    const colon = pair.indexOf(":");
    if (colon === -1) continue;
    const key = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    if (key === "model_version") out.modelVersion = value;
    if (key === "score_date") out.scoreDate = value;
  }
  return out;
}

/**
 * Parses an EPSS CSV. Throws ValidationError at `file:line` for a row with a bad CVE id or a score out
 * of range, and for a header without `cve`, `epss` and `percentile` columns.
 */
export function parseEpssCsv(text: string, file = "epss.csv"): EpssEntry[] {
  const body = text.replace(/^\uFEFF/, "");
  const newline = body.indexOf("\n");
  const firstLine = newline === -1 ? body : body.slice(0, newline);
  const meta = firstLine.startsWith("#") ? parseComment(firstLine.trim()) : {};
  let rows: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    rows = parse(body, {
      columns: (header: string[]) => header.map((h) => COLUMNS[h.trim().toLowerCase()] ?? false),
      comment: "#",
      comment_no_infix: true,
      skip_empty_lines: true,
      info: true,
    }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  } catch (err) {
    const line = typeof err === "object" && err !== null && "lines" in err ? Number(err.lines) : undefined;
    throw new ValidationError(`invalid CSV: ${err instanceof Error ? err.message : String(err)}`, {
      where: line === undefined ? file : `${file}:${line}`,
      cause: err,
    });
  }
  const entries: EpssEntry[] = [];
  for (const { record, info } of rows) {
    // info.lines is the record's last line; quoted fields may span lines, so count back to its first.
    const spanned = Object.values(record).reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    const where = `${file}:${info.lines - spanned}`;
    if (entries.length === 0) {
      const missing = (["cve", "epss", "percentile"] as const).filter((c) => !(c in record));
      if (missing.length > 0) {
        throw new ValidationError(`EPSS CSV header lacks column(s) ${missing.join(", ")}`, {
          where: `${file}:1`,
        });
      }
    }
    const result = rowSchema.safeParse(record);
    if (!result.success) {
      throw new ValidationError(result.error.issues[0]?.message ?? "invalid EPSS row", {
        where,
        details: { cve: record.cve },
      });
    }
    const { cve, epss, percentile, cvss3 } = result.data;
    entries.push({ cve, epss, percentile, ...(cvss3 === undefined ? {} : { cvss3 }), ...meta });
  }
  return entries;
}
