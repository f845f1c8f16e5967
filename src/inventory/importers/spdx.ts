/** SPDX 2.2 and 2.3 JSON documents: every package's purl external references. */
import { z } from "zod";
import type { PackageRecord } from "../../domain/inventory.js";
import { jsonWhere, parseJsonText, validateJson } from "../../domain/json-text.js";
import { DEFAULT_INPUT_NAME, dedupePackages, type ImportResult, type SkippedEntry } from "./import-result.js";
import { recordFromPurl } from "./purl-record.js";

export interface SpdxOptions {
  /** Shown in `where` before the JSON pointer. */
  file?: string;
}

export const SPDX_VERSIONS = ["SPDX-2.2", "SPDX-2.3"] as const;

const externalRefSchema = z.looseObject({
  // SPDX 2.2 spells it PACKAGE_MANAGER in JSON, SPDX 2.3 PACKAGE-MANAGER; both occur in the wild.
  referenceCategory: z.string(),
  referenceType: z.string(),
  referenceLocator: z.string(),
});

const packageSchema = z.looseObject({
  name: z.string(),
  versionInfo: z.string().optional(),
  externalRefs: z.array(externalRefSchema).optional(),
});

const documentSchema = z.looseObject({
  spdxVersion: z.enum(SPDX_VERSIONS),
  packages: z.array(packageSchema).optional(),
});

const PACKAGE_MANAGER = new Set(["PACKAGE-MANAGER", "PACKAGE_MANAGER"]);

/** Parses an SPDX JSON document; packages without a purl reference are skipped and listed. */
export function parseSpdx(text: string, options: SpdxOptions = {}): ImportResult {
  const doc = validateJson(
    documentSchema,
    parseJsonText(text, options.file ?? DEFAULT_INPUT_NAME),
    options.file,
    "SPDX 2.2/2.3 JSON document",
  );
  const records: PackageRecord[] = [];
  const skipped: SkippedEntry[] = [];
  (doc.packages ?? []).forEach((p, i) => {
    let found = false;
    (p.externalRefs ?? []).forEach((ref, j) => {
      if (ref.referenceType !== "purl" || !PACKAGE_MANAGER.has(ref.referenceCategory)) return;
      found = true;
      const where = jsonWhere(options.file, ["packages", i, "externalRefs", j, "referenceLocator"]);
      const result = recordFromPurl(ref.referenceLocator, p.versionInfo, where);
      if ("record" in result) records.push(result.record);
      else skipped.push({ where, reason: `${p.name}: ${result.skip}` });
    });
    if (!found)
      skipped.push({ where: jsonWhere(options.file, ["packages", i]), reason: `${p.name}: no purl` });
  });
  return { packages: dedupePackages(records), skipped };
}
