/**
 * The matcher's incremental work after an import: re-match the packages whose advisories changed,
 * and re-classify findings whose KEV or EPSS facts changed. An import records that work in its own
 * transaction (`oweRematch`, `oweRiskRefresh`) and does it right after it commits
 * (`settleMatcherWork`); what a crash or a failure leaves undone stays owed for the work loop.
 */
import type { Kysely } from "kysely";
import { z } from "zod";
import { AppError } from "../../domain/errors.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database } from "../../store/schema.js";
import { drainOwedWork } from "../../work/drain.js";
import { oweWork } from "../../work/owe.js";
import type { WorkKind } from "../../work/work-kind.js";
import {
  auditClassMoves,
  type ClassMove,
  collectingClassMoves,
  reportClassMoves,
  trackClassMoves,
} from "../findings/class-moves.js";
import {
  CVES_FOR_LOOKUP,
  canonicalAdvisoryKeys,
  refreshRiskIn,
  rematchPackagesIn,
} from "../findings/rematch.js";

export interface PackageKey {
  /** Canonical OSV base name, as advisory_packages stores it. */
  ecosystem: string;
  name: string;
}

const packageKey = z.object({ ecosystem: z.string().min(1), name: z.string().min(1) });

/** Re-matches installed packages filed under advisory keys; one item per (base ecosystem, name). */
export const REMATCH_PACKAGES: WorkKind<PackageKey> = {
  name: "findings.rematch-packages",
  batch: 2000,
  leaseMs: 10 * 60_000,
  parse: (payload) => packageKey.parse(payload),
  async run(trx, items, ctx, now) {
    const moves = await trackClassMoves(trx, async () => {
      await rematchPackagesIn(
        trx,
        now,
        items.map((item) => item.payload),
      );
    });
    await auditClassMoves(trx, now, "advisories", moves);
    reportClassMoves(ctx, moves);
  },
};

/** `cve: null` stands for every unresolved finding (an import that touched too many CVEs to name). */
const riskTarget = z.object({ cve: z.string().min(1).nullable() });

/** Re-classifies the findings of a CVE after its KEV or EPSS facts changed. */
export const REFRESH_RISK: WorkKind<z.infer<typeof riskTarget>> = {
  name: "findings.refresh-risk",
  batch: CVES_FOR_LOOKUP,
  leaseMs: 10 * 60_000,
  parse: (payload) => riskTarget.parse(payload),
  async run(trx, items, ctx, now) {
    const moves = await trackClassMoves(trx, async () => {
      const cves = new Set<string>();
      for (const { payload } of items) {
        if (payload.cve === null) {
          await refreshRiskIn(trx, now, "all");
          return;
        }
        cves.add(payload.cve);
      }
      await refreshRiskIn(trx, now, cves);
    });
    await auditClassMoves(trx, now, "risk-refresh", moves);
    reportClassMoves(ctx, moves);
  },
};

/** The matcher's work kinds, for the work loop's registry. */
export const MATCHER_WORK_KINDS: readonly WorkKind[] = [REMATCH_PACKAGES, REFRESH_RISK];

/** Records, in the import's transaction, that these packages must be re-matched. */
export async function oweRematch(
  trx: Kysely<Database>,
  now: Date,
  keys: readonly PackageKey[],
): Promise<void> {
  const items = canonicalAdvisoryKeys(keys).map((k) => ({
    key: JSON.stringify([k.ecosystem, k.name]),
    payload: k,
  }));
  await oweWork(trx, REMATCH_PACKAGES, items, now);
}

/** Records, in the import's transaction, that the findings of these CVEs must be re-classified. */
export async function oweRiskRefresh(
  trx: Kysely<Database>,
  now: Date,
  cves: readonly string[],
): Promise<void> {
  const distinct = [...new Set(cves)];
  // Beyond this many the refresh reads every unresolved finding anyway: one item says so.
  const items =
    distinct.length > CVES_FOR_LOOKUP
      ? [{ key: "*", payload: { cve: null } }]
      : distinct.map((cve) => ({ key: cve, payload: { cve } }));
  await oweWork(trx, REFRESH_RISK, items, now);
}

/**
 * Does the owed work of one kind right after the import's commit and returns the class moves it made
 * (none when the work is held for the work loop). A failure leaves the work owed (retried with backoff
 * by the server's work loop) and is reported as such, not as a failed import.
 */
export async function settleMatcherWork(
  ctx: ServiceContext,
  kind: WorkKind,
  what: string,
): Promise<ClassMove[]> {
  const collecting = collectingClassMoves(ctx);
  const result = await drainOwedWork(collecting.ctx, [kind]);
  const failure = result?.failures[0];
  if (failure === undefined) return collecting.moves();
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  throw new AppError(
    "internal",
    `the import is stored, but ${what} failed; it stays owed and is retried: ${message}`,
    { reason: "store.work-failed", cause: failure.error },
  );
}
