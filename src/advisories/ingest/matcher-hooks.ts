/**
 * The matcher's incremental hooks, called after an import commits: re-match the packages whose
 * advisories changed, and re-classify findings whose KEV or EPSS facts changed.
 */
import { AppError } from "../../domain/errors.js";
import type { ServiceContext } from "../../service/context.js";

export interface PackageKey {
  /** Canonical OSV base name, as advisory_packages stores it. */
  ecosystem: string;
  name: string;
}

interface MatcherHooks {
  rematchPackages(ctx: ServiceContext, keys: PackageKey[]): Promise<unknown>;
  refreshRiskForCves(ctx: ServiceContext, cves: string[]): Promise<unknown>;
}

// findings/rematch.ts is written alongside ingest. A computed specifier keeps the build and the tests
// independent of it until it lands; replace this loader with a static import then.
const REMATCH_MODULE = ["..", "findings", "rematch.js"].join("/");

let loaded: Promise<MatcherHooks | null> | undefined;
let warned = false;

function isMatcherHooks(value: unknown): value is MatcherHooks {
  const m = value as Partial<Record<keyof MatcherHooks, unknown>> | null;
  return typeof m?.rematchPackages === "function" && typeof m.refreshRiskForCves === "function";
}

function isModuleMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : "";
  return (
    code === "ERR_MODULE_NOT_FOUND" ||
    /Cannot find module|Failed to load url|Does the file exist/i.test(message)
  );
}

async function matcherHooks(ctx: ServiceContext): Promise<MatcherHooks | null> {
  loaded ??= import(REMATCH_MODULE).then(
    (module: unknown) => (isMatcherHooks(module) ? module : null),
    (err: unknown) => {
      if (!isModuleMissing(err)) throw err;
      return null;
    },
  );
  const hooks = await loaded;
  if (hooks === null && !warned) {
    warned = true;
    ctx.logger.warn("no matcher hooks (findings/rematch) yet: findings are not re-matched");
  }
  return hooks;
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
  const hooks = await matcherHooks(ctx);
  if (hooks)
    await runHook(ctx, `re-matching ${keys.length} packages`, () => hooks.rematchPackages(ctx, keys));
}

/** Re-classifies findings of these CVEs; call it after the KEV or EPSS transaction commits. */
export async function refreshRiskAfterImport(ctx: ServiceContext, cves: string[]): Promise<void> {
  if (cves.length === 0) return;
  const hooks = await matcherHooks(ctx);
  if (hooks) {
    await runHook(ctx, `re-classifying findings of ${cves.length} CVEs`, () =>
      hooks.refreshRiskForCves(ctx, cves),
    );
  }
}
