/** The inventory importer registry: one interface, every format, detection and a single entry point. */
import { ValidationError } from "../../domain/errors.js";
import { parseCycloneDx } from "./cyclonedx.js";
import { parseDpkgStatus } from "./dpkg-status.js";
import { DEFAULT_INPUT_NAME, type ImportResult } from "./import-result.js";
import { parseSpdx } from "./spdx.js";

export { parseCycloneDx } from "./cyclonedx.js";
export { parseDpkgStatus } from "./dpkg-status.js";
export type { ImportResult, SkippedEntry } from "./import-result.js";
export { parseSpdx } from "./spdx.js";

export const INVENTORY_FORMATS = ["dpkg", "cyclonedx", "spdx"] as const;
export type InventoryFormat = (typeof INVENTORY_FORMATS)[number];

export interface InventoryImportOptions {
  /** Shown in error and skip locations. */
  file?: string;
  /** OSV ecosystem for formats that do not name one (dpkg): "Debian:12", "Ubuntu:22.04", … */
  ecosystem?: string;
  /** purl `distro` qualifier for dpkg packages. */
  distro?: string;
}

export interface InventoryImporter {
  format: InventoryFormat;
  /** Whether the text looks like this format (content first; the file name only settles a tie). */
  sniff(text: string): boolean;
  /** File names this format is usually saved under. */
  fileName: RegExp;
  /** Pure: returns the packages or throws ValidationError with `where`. */
  parse(text: string, options: InventoryImportOptions): ImportResult;
}

/** The first couple of kilobytes are enough to tell the formats apart without parsing a large SBOM. */
const head = (text: string) => text.slice(0, 4096);

export const INVENTORY_IMPORTERS: readonly InventoryImporter[] = [
  {
    format: "cyclonedx",
    sniff: (text) => /"bomFormat"\s*:\s*"CycloneDX"/.test(text),
    fileName: /(\.cdx\.json|bom(\.[\d.]+)?\.json|\.cyclonedx\.json)$/i,
    parse: (text, o) => parseCycloneDx(text, o.file === undefined ? {} : { file: o.file }),
  },
  {
    format: "spdx",
    // Producers put spdxVersion anywhere in the object (Microsoft's SBOM tool near the end): scan it all.
    sniff: (text) => /"spdxVersion"\s*:\s*"SPDX-/.test(text),
    fileName: /\.spdx\.json$/i,
    parse: (text, o) => parseSpdx(text, o.file === undefined ? {} : { file: o.file }),
  },
  {
    format: "dpkg",
    sniff: (text) => /^Package:\s*\S/m.test(head(text)) && !/^\s*[{[]/.test(text),
    fileName: /(^|[/\\])status$|\.status$/i,
    parse: (text, o) => parseDpkgStatus(text, o),
  },
];

function importerFor(format: InventoryFormat): InventoryImporter {
  const found = INVENTORY_IMPORTERS.find((i) => i.format === format);
  if (found === undefined) throw new ValidationError(`unknown inventory format "${format}"`);
  return found;
}

/** Tells the format from the content, then from the file name; throws ValidationError when neither says. */
export function detectInventoryFormat(text: string, fileName?: string): InventoryFormat {
  const byContent = INVENTORY_IMPORTERS.filter((i) => i.sniff(text));
  if (byContent.length === 1 && byContent[0]) return byContent[0].format;
  const candidates = byContent.length > 1 ? byContent : INVENTORY_IMPORTERS;
  const byName = fileName === undefined ? undefined : candidates.find((i) => i.fileName.test(fileName));
  if (byName) return byName.format;
  throw new ValidationError(
    `cannot tell the inventory format: expected a dpkg status file, CycloneDX JSON or SPDX JSON (${INVENTORY_FORMATS.join(", ")})`,
    { where: fileName ?? DEFAULT_INPUT_NAME },
  );
}

/** Parses an inventory in any supported format (detected unless `format` is given). */
export function parseInventory(
  text: string,
  options: InventoryImportOptions & { format?: InventoryFormat } = {},
): ImportResult {
  const format = options.format ?? detectInventoryFormat(text, options.file);
  return importerFor(format).parse(text, options);
}
