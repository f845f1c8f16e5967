/** CycloneDX JSON SBOMs, spec versions 1.2 to 1.6: every component with a purl, nested ones included. */
import { z } from "zod";
import { ValidationError } from "../../domain/errors.js";
import type { PackageRecord } from "../../domain/inventory.js";
import { jsonWhere, parseJsonText, validateJson } from "../../domain/json-text.js";
import { DEFAULT_INPUT_NAME, dedupePackages, type ImportResult, type SkippedEntry } from "./import-result.js";
import { recordFromPurl } from "./purl-record.js";

export interface CycloneDxOptions {
  /** Shown in `where` before the JSON pointer. */
  file?: string;
}

export const CYCLONEDX_SPEC_VERSIONS = ["1.2", "1.3", "1.4", "1.5", "1.6"] as const;

/** Components within components: real SBOMs nest a handful of levels (an image, its jars, their shaded jars). */
export const MAX_COMPONENT_DEPTH = 64;

/** The parts of a component the importer reads; everything else is let through untouched. */
export interface CycloneDxComponent {
  name: string;
  version?: string | undefined;
  purl?: string | undefined;
  components?: CycloneDxComponent[] | undefined;
}

const componentSchema: z.ZodType<CycloneDxComponent> = z.looseObject({
  name: z.string(),
  version: z.string().optional(),
  purl: z.string().min(1).optional(),
  get components() {
    return z.array(componentSchema).optional();
  },
});

const bomSchema = z.looseObject({
  bomFormat: z.literal("CycloneDX"),
  specVersion: z.enum(CYCLONEDX_SPEC_VERSIONS),
  components: z.array(componentSchema).optional(),
});

/** Parses a CycloneDX JSON document; the BOM's own subject (metadata.component) is not a dependency and is left out. */
export function parseCycloneDx(text: string, options: CycloneDxOptions = {}): ImportResult {
  const value = parseJsonText(text, options.file ?? DEFAULT_INPUT_NAME);
  checkComponentDepth(value, options.file);
  const bom = validateJson(bomSchema, value, options.file, "CycloneDX JSON document");
  const records: PackageRecord[] = [];
  const skipped: SkippedEntry[] = [];
  const walk = (components: readonly CycloneDxComponent[], path: (string | number)[]) => {
    components.forEach((c, i) => {
      const here = [...path, i];
      if (c.purl === undefined) {
        skipped.push({ where: jsonWhere(options.file, here), reason: `${c.name}: no purl` });
      } else {
        const result = recordFromPurl(c.purl, c.version, jsonWhere(options.file, [...here, "purl"]));
        if ("record" in result) records.push(result.record);
        else skipped.push({ where: jsonWhere(options.file, here), reason: `${c.name}: ${result.skip}` });
      }
      if (c.components) walk(c.components, [...here, "components"]);
    });
  };
  walk(bom.components ?? [], ["components"]);
  return { packages: dedupePackages(records), skipped };
}

/**
 * Refuses components nested deeper than MAX_COMPONENT_DEPTH before the recursive schema and walk see
 * them; looks at `components` lists only, without recursion, and points at the first one too deep.
 */
function checkComponentDepth(value: unknown, file: string | undefined): void {
  const lists: Array<{ list: unknown; path: Array<string | number>; depth: number }> = [];
  const componentsOf = (v: unknown): unknown =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? (v as { components?: unknown }).components
      : undefined;
  lists.push({ list: componentsOf(value), path: ["components"], depth: 1 });
  while (lists.length > 0) {
    const item = lists.pop();
    if (item === undefined || !Array.isArray(item.list)) continue;
    if (item.depth > MAX_COMPONENT_DEPTH) {
      throw new ValidationError(`components are nested more than ${MAX_COMPONENT_DEPTH} levels deep`, {
        reason: "input.too-deep",
        where: jsonWhere(file, item.path),
      });
    }
    for (let i = item.list.length - 1; i >= 0; i--) {
      const nested = componentsOf(item.list[i] as unknown);
      if (nested !== undefined) {
        lists.push({ list: nested, path: [...item.path, i, "components"], depth: item.depth + 1 });
      }
    }
  }
}
