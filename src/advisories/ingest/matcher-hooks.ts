/**
 * The matcher's incremental hooks, called after an import commits: re-match the packages whose
 * advisories changed, and re-classify findings whose KEV or EPSS facts changed.
 */
import { AppError } from "../../domain/errors.js";
import type { ServiceContext } from "../../service/context.js";
import { refreshRiskForCves, rematchPackages } from "../findings/rematch.js";

export interface PackageKey {
  /** Canonical OSV base name, as advisory_packages stores it. */
  ecosystem: string;
  name: string;
}

/**
 * The import has committed when a hook runs, and a re-import would find nothing changed and not call
 * it again: a failure is logged and reported as such, not as a failed import.
 */
async function runHook(ctx: ServiceContext, what: string, hook: () => Promise<unknown>): Promise<void> {
  try {
    await hook();
  } catch (err) {
    ctx.logger.error({ err }, `import stored, but ${what} failed`);
    throw new AppError(
      "internal",
      `the import is stored, but ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Re-matches the given packages across the fleet; call it after the advisories' transaction commits. */
export async function rematchAfterImport(ctx: ServiceContext, keys: PackageKey[]): Promise<void> {
  if (keys.length === 0) return;
  await runHook(ctx, `re-matching ${keys.length} packages`, () => rematchPackages(ctx, keys));
}

/** Re-classifies findings of these CVEs; call it after the KEV or EPSS transaction commits. */
export async function refreshRiskAfterImport(ctx: ServiceContext, cves: string[]): Promise<void> {
  if (cves.length === 0) return;
  await runHook(ctx, `re-classifying findings of ${cves.length} CVEs`, () => refreshRiskForCves(ctx, cves));
}
