/**
 * CVSS base scores (2.0, 3.0, 3.1, 4.0) with ae-cvss-calculator, and the highest score of an OSV record.
 */
// The package is CommonJS: Node's ESM loader only exposes its exports through the default import.
import cvssCalculator from "ae-cvss-calculator";
import { ValidationError } from "../domain/errors.js";
import type { OsvRecord } from "./osv/schema.js";

export type CvssVersion = "2.0" | "3.0" | "3.1" | "4.0";
export type CvssSeverity = "none" | "low" | "medium" | "high" | "critical";

export interface CvssScore {
  version: CvssVersion;
  score: number;
  severity: CvssSeverity;
}

type Calculator = InstanceType<
  | typeof cvssCalculator.Cvss2
  | typeof cvssCalculator.Cvss3P0
  | typeof cvssCalculator.Cvss3P1
  | typeof cvssCalculator.Cvss4P0
>;

const PREFIXES: ReadonlyArray<readonly [string, CvssVersion]> = [
  ["CVSS:3.0/", "3.0"],
  ["CVSS:3.1/", "3.1"],
  ["CVSS:4.0/", "4.0"],
];

function calculatorFor(version: CvssVersion): Calculator {
  switch (version) {
    case "2.0":
      return new cvssCalculator.Cvss2();
    case "3.0":
      return new cvssCalculator.Cvss3P0();
    case "3.1":
      return new cvssCalculator.Cvss3P1();
    case "4.0":
      return new cvssCalculator.Cvss4P0();
  }
}

/** "Not defined" as each version spells it; a base metric must not have it. */
const NOT_DEFINED = new Set(["X", "ND"]);
/** CVSS 4.0 allows Safety (S) only in the modified subsequent-system metrics MSI and MSA. */
const NO_SAFETY_IN_BASE = new Set(["SC", "SI", "SA"]);

function bad(vector: string, offset: number, message: string, metric: string): never {
  throw new ValidationError(message, { where: `offset ${offset}`, details: { vector, metric } });
}

/**
 * Checks the vector strictly before scoring: the calculator silently accepts unknown values as "not
 * defined", keeps the last of duplicated metrics and scores a vector with missing base metrics as 0.
 */
function loadVector(vector: string): { version: CvssVersion; calculator: Calculator } {
  const prefix = PREFIXES.find(([p]) => vector.startsWith(p));
  if (prefix === undefined && vector.startsWith("CVSS:")) {
    bad(vector, 0, `unsupported CVSS version in "${vector.split("/")[0]}"`, "CVSS");
  }
  const version: CvssVersion = prefix?.[1] ?? "2.0";
  const body = prefix === undefined ? vector : vector.slice(prefix[0].length);
  const calculator = calculatorFor(version);
  const categories = [...calculator.getRegisteredComponents()];
  const base = categories[0]?.[1] ?? [];
  const components = new Map(categories.flatMap(([, list]) => list.map((c) => [c.shortName, c] as const)));
  const seen = new Set<string>();
  let offset = prefix?.[0].length ?? 0;
  for (const part of body.split("/")) {
    const [metric = "", value, ...rest] = part.split(":");
    const component = components.get(metric);
    if (component === undefined || value === undefined || rest.length > 0) {
      bad(vector, offset, `unknown CVSS ${version} metric "${part}"`, metric);
    }
    if (seen.has(metric)) bad(vector, offset, `CVSS metric ${metric} is given twice`, metric);
    seen.add(metric);
    const isBase = base.includes(component);
    const allowed = component.values.some((v) => v.shortName === value);
    if (
      !allowed ||
      (isBase && NOT_DEFINED.has(value)) ||
      (version === "4.0" && NO_SAFETY_IN_BASE.has(metric) && value === "S")
    ) {
      bad(vector, offset, `invalid value "${value}" for CVSS ${version} metric ${metric}`, metric);
    }
    calculator.applyComponentString(metric, value);
    offset += part.length + 1;
  }
  const missing = base.find((c) => !seen.has(c.shortName));
  if (missing !== undefined) {
    bad(
      vector,
      vector.length,
      `CVSS ${version} base metric ${missing.shortName} is missing`,
      missing.shortName,
    );
  }
  return { version, calculator };
}

/**
 * Qualitative rating of a score: CVSS 3.x/4.0 specification table; for 2.0, NVD's ranges (low below
 * 4.0, medium below 7.0, high from 7.0), since CVSS 2.0 itself defines none.
 */
export function cvssSeverity(version: CvssVersion, score: number): CvssSeverity {
  if (version === "2.0") return score < 4 ? "low" : score < 7 ? "medium" : "high";
  if (score === 0) return "none";
  return score < 4 ? "low" : score < 7 ? "medium" : score < 9 ? "high" : "critical";
}

/**
 * Base score of a CVSS vector (`CVSS:3.1/…`, `CVSS:4.0/…`, or a bare 2.0 vector `AV:N/AC:L/…`); for
 * 4.0, the CVSS-B score from the base metrics alone. Throws ValidationError naming the bad metric.
 */
export function cvssBaseScore(vector: string): CvssScore {
  const { version, calculator } = loadVector(vector.trim());
  const scores = calculator.calculateScores();
  const score =
    "baseMetricsOnly" in scores ? scores.baseMetricsOnly : "base" in scores ? scores.base : undefined;
  if (score === undefined || !Number.isFinite(score)) {
    throw new ValidationError(`cannot score CVSS ${version} vector`, { details: { vector } });
  }
  return { version, score, severity: cvssSeverity(version, score) };
}

export interface RecordSeverity {
  score: number | null;
  vector: string | null;
  version: CvssVersion | null;
  /** Vectors that could not be scored, with the reason; they do not count towards the highest score. */
  invalid: ValidationError[];
}

/**
 * The highest CVSS base score over the record's top-level and per-package severity entries. Ubuntu's
 * qualitative ratings carry no score and are skipped.
 */
export function severityOfRecord(record: OsvRecord): RecordSeverity {
  const result: RecordSeverity = { score: null, vector: null, version: null, invalid: [] };
  const entries = [...(record.severity ?? []), ...(record.affected ?? []).flatMap((a) => a.severity ?? [])];
  for (const entry of entries) {
    if (entry.type === "Ubuntu") continue;
    try {
      const scored = cvssBaseScore(entry.score);
      if (result.score === null || scored.score > result.score) {
        Object.assign(result, { score: scored.score, vector: entry.score, version: scored.version });
      }
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      result.invalid.push(err);
    }
  }
  return result;
}
