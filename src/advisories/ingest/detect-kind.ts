/** Which advisory feed a file holds, told from its content. */
export const ADVISORY_KINDS = ["osv", "kev", "epss"] as const;
export type AdvisoryKind = (typeof ADVISORY_KINDS)[number];

function isKevCatalog(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return (
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      "vulnerabilities" in value &&
      "catalogVersion" in value
    );
  } catch {
    // Not one JSON document (JSONL, or broken): the OSV reader reports where it is broken.
    return false;
  }
}

/** The CSV header's column names, lower-cased, skipping a leading `#model_version…` comment line. */
function csvHeader(text: string): string[] {
  const lines = text.split(/\r?\n/, 3);
  const header = lines.find((line) => !line.startsWith("#") && line.trim() !== "") ?? "";
  return header.split(",").map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase());
}

/**
 * KEV: a JSON object with `vulnerabilities` and `catalogVersion`; EPSS: a CSV whose header has `cve`
 * and `epss` columns (either case, with or without the `#model_version` line); anything else is OSV.
 * `text` may be the start of a file only (JSONL is never read whole for this).
 */
export function detectAdvisoryKind(text: string): AdvisoryKind {
  const body = text.replace(/^\uFEFF/, "").trimStart();
  if (body.startsWith("{")) return isKevCatalog(body) ? "kev" : "osv";
  if (body.startsWith("[")) return "osv";
  const columns = csvHeader(body);
  return columns.includes("cve") && columns.includes("epss") ? "epss" : "osv";
}
