/** CISA's Known Exploited Vulnerabilities catalog (known_exploited_vulnerabilities.json). */
import { z } from "zod";
import { jsonPointer, ValidationError } from "../domain/errors.js";
import { parseJsonText } from "../domain/json-text.js";

const date = z.iso.date({ error: "must be a date YYYY-MM-DD" });

// Field names and rules follow CISA's published known_exploited_vulnerabilities_schema.json.
export const kevEntrySchema = z.object({
  cveID: z.string().regex(/^CVE-[0-9]{4}-[0-9]{4,19}$/, "must be a CVE id CVE-YYYY-NNNN"),
  vendorProject: z.string(),
  product: z.string(),
  vulnerabilityName: z.string(),
  dateAdded: date,
  shortDescription: z.string(),
  requiredAction: z.string(),
  dueDate: date,
  // "Known" or "Unknown" today; the schema allows any string, so a new value does not break imports.
  knownRansomwareCampaignUse: z.string().optional(),
  notes: z.string().optional(),
  cwes: z.array(z.string().regex(/^CWE-[0-9]+$/, "must be a CWE id CWE-NNN")).optional(),
});

export const kevCatalogSchema = z.object({
  title: z.string().optional(),
  catalogVersion: z.string(),
  dateReleased: z.string(),
  count: z.number().int().nonnegative(),
  vulnerabilities: z.array(kevEntrySchema),
});

export type KevEntry = z.output<typeof kevEntrySchema>;
export type KevCatalog = z.output<typeof kevCatalogSchema>;

/** The whole catalog with its version and release date. Throws ValidationError at `file#/pointer`. */
export function parseKevDocument(text: string, file = "kev.json"): KevCatalog {
  const value = parseJsonText(text.replace(/^\uFEFF/, ""), file);
  const result = kevCatalogSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : "";
    throw new ValidationError(`invalid KEV catalog: ${issue?.message ?? "invalid"}${more}`, {
      where: `${file}#${jsonPointer(issue?.path ?? [])}`,
      details: {
        issues: result.error.issues.map((i) => ({ pointer: jsonPointer(i.path), message: i.message })),
      },
    });
  }
  return result.data;
}

/** The catalog's entries. Throws ValidationError at `file#/pointer` (`file:line:col` for bad JSON). */
export function parseKevCatalog(text: string, file = "kev.json"): KevEntry[] {
  return parseKevDocument(text, file).vulnerabilities;
}
