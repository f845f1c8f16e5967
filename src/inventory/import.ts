import type { Actor } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { findAssetRow, insertAsset, type Placement, validatePlacement } from "./assets.js";
import { releaseWarnings } from "./distro-releases.js";
import type { SkippedEntry } from "./importers/import-result.js";
import { detectInventoryFormat, type InventoryFormat, parseInventory } from "./importers/index.js";
import { packageDictionary } from "./package-dictionary.js";
import { type ReportSummary, replaceInventory } from "./report.js";

export interface ImportRequest {
  asset: string;
  content: string;
  format?: InventoryFormat;
  /** Shown in error locations. */
  file?: string;
  ecosystem?: string;
  distro?: string;
  /** Placement for the asset when the import creates it. */
  placement?: Placement;
  /** Lets a file with no installed packages empty an asset that has some. */
  allowEmpty?: boolean;
}

export interface ImportSummary extends ReportSummary {
  asset: string;
  format: InventoryFormat;
  created: boolean;
  skipped: SkippedEntry[];
  /** What the import took but may not match as meant (Debian packages without a release). */
  warnings: string[];
}

/**
 * Imports a dpkg status file or an SBOM as an asset's inventory. All or nothing: the file is parsed
 * in full before anything is written, and the asset (created if missing) and its packages are
 * written in one transaction.
 */
export async function importInventory(
  ctx: ServiceContext,
  actor: Actor,
  request: ImportRequest,
): Promise<ImportSummary> {
  if (request.placement) validatePlacement(request.placement, "/placement");
  const format = request.format ?? detectInventoryFormat(request.content, request.file);
  const parsed = parseInventory(request.content, {
    format,
    ...(request.file ? { file: request.file } : {}),
    ...(request.ecosystem ? { ecosystem: request.ecosystem } : {}),
    ...(request.distro ? { distro: request.distro } : {}),
  });
  const now = ctx.now();
  const dictionary = packageDictionary(ctx.store.db).session();
  const summary = await ctx.store.write(async (trx) => {
    const row = await findAssetRow(trx, request.asset);
    const asset = row
      ? { id: row.id, name: row.name }
      : await insertAsset(
          trx,
          actor,
          request.asset,
          { kind: format === "dpkg" ? "host" : "image", ...request.placement },
          now,
        );
    const summary = await replaceInventory(trx, actor, asset, parsed.packages, "import", now, {
      allowEmpty: request.allowEmpty === true,
      where: request.file ?? "/content",
      dictionary,
    });
    return {
      ...summary,
      asset: asset.name,
      format,
      created: !row,
      skipped: parsed.skipped,
      warnings: releaseWarnings(parsed.packages),
    };
  });
  dictionary.commit();
  return summary;
}
