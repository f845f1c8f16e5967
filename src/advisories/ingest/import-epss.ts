import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import { reasonError, ValidationError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import type { EpssScoresTable } from "../../store/schema.js";
import type { EpssEntry } from "../epss.js";
import { classMoveSchema } from "../findings/class-moves.js";
import { lockAdvisoryImports } from "./import-lock.js";
import { oweRiskRefresh, REFRESH_RISK, settleMatcherWork } from "./matcher-hooks.js";

/** What an EPSS import did: the one schema of its shape (the API publishes it). */
export const epssSummarySchema = z.object({
  total: z.number().int(),
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  /** Stored CVEs the file does not score: they lose their score. */
  removed: z.number().int(),
  modelVersion: z.string().nullable(),
  scoreDate: z.string().nullable(),
  /** Findings the new scores moved from one class to another. */
  classMoves: z.array(classMoveSchema),
});
export type EpssSummary = z.infer<typeof epssSummarySchema>;

export interface EpssImportOptions {
  /** Import a file older than the stored scores (or one without a score date over dated scores). */
  force?: boolean;
}

const CVE_CHUNK = 500;
/** PostgreSQL keeps `real` as float4: a score read back may differ from the file's in the 7th digit. */
const SAME_SCORE = 1e-6;

const sameScore = (a: number, b: number) => Math.abs(a - b) < SAME_SCORE;

/** Score dates as FIRST writes them ("2025-08-26T00:00:00+0000"), compared as instants where they parse. */
function compareScoreDates(a: string, b: string): number {
  const norm = (d: string) => Date.parse(d.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  const [x, y] = [norm(a), norm(b)];
  if (Number.isFinite(x) && Number.isFinite(y)) return Math.sign(x - y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Each EPSS file is the whole model's output for its day: it replaces the stored scores, and a CVE
 * it leaves out loses its score. A file older than the stored one would roll every score back, so it
 * is refused unless forced (as a KEV catalog is); so is an undated file over dated scores, which
 * cannot be shown to be newer.
 */
function checkEpssReplacement(incoming: string | null, stored: string | null, force: boolean): void {
  if (force || stored === null) return;
  if (incoming === null) {
    throw reasonError(
      "epss.older-file",
      `the file has no score date and the stored scores are of ${stored}; pass force (CLI: --force) to replace them anyway`,
      { where: "score_date", details: { incoming, stored } },
    );
  }
  if (compareScoreDates(incoming, stored) < 0) {
    throw reasonError(
      "epss.older-file",
      `the file's scores are of ${incoming}, older than the stored ${stored}; pass force (CLI: --force) to import it anyway`,
      { where: "score_date", details: { incoming, stored } },
    );
  }
}

/**
 * Replaces the stored EPSS scores with a file's, with one audit event; the transaction also owes the
 * re-classification of the findings of every CVE whose score changed or went, done after it commits.
 * `file` names the input in errors and the event.
 */
export async function importEpss(
  ctx: ServiceContext,
  actor: Actor,
  entries: readonly EpssEntry[],
  file?: string,
  options: EpssImportOptions = {},
): Promise<EpssSummary> {
  const rows = new Map<string, EpssScoresTable>();
  for (const [i, entry] of entries.entries()) {
    if (rows.has(entry.cve)) {
      throw new ValidationError(`${entry.cve} has two EPSS scores`, {
        where: file ?? `/entries/${i}`,
        details: { cve: entry.cve, index: i },
      });
    }
    rows.set(entry.cve, {
      cve: entry.cve,
      epss: entry.epss,
      percentile: entry.percentile,
      score_date: entry.scoreDate ?? null,
    });
  }
  const first = entries[0];
  const modelVersion = first?.modelVersion ?? null;
  const scoreDate = first?.scoreDate ?? null;
  const now = ctx.now();
  const summary = await ctx.store.write(async (trx) => {
    await lockAdvisoryImports(trx);
    const stored = new Map<string, EpssScoresTable>();
    for (const row of await trx.selectFrom("epss_scores").selectAll().execute()) stored.set(row.cve, row);
    let newest: string | null = null;
    for (const row of stored.values()) {
      if (row.score_date !== null && (newest === null || compareScoreDates(row.score_date, newest) > 0))
        newest = row.score_date;
    }
    checkEpssReplacement(scoreDate, newest, options.force === true);
    const changedRows = [...rows.values()].filter((row) => {
      const old = stored.get(row.cve);
      return (
        old === undefined ||
        !sameScore(Number(old.epss), row.epss) ||
        !sameScore(Number(old.percentile), row.percentile) ||
        old.score_date !== row.score_date
      );
    });
    const removed = [...stored.keys()].filter((cve) => !rows.has(cve));
    for (let i = 0; i < removed.length; i += CVE_CHUNK) {
      await trx
        .deleteFrom("epss_scores")
        .where("cve", "in", removed.slice(i, i + CVE_CHUNK))
        .execute();
    }
    for (let i = 0; i < changedRows.length; i += CVE_CHUNK) {
      await trx
        .insertInto("epss_scores")
        .values(changedRows.slice(i, i + CVE_CHUNK))
        .onConflict((oc) =>
          oc.column("cve").doUpdateSet((eb) => ({
            epss: eb.ref("excluded.epss"),
            percentile: eb.ref("excluded.percentile"),
            score_date: eb.ref("excluded.score_date"),
          })),
        )
        .execute();
    }
    const added = changedRows.filter((r) => !stored.has(r.cve)).length;
    const counts = {
      total: rows.size,
      added,
      updated: changedRows.length - added,
      unchanged: rows.size - changedRows.length,
      removed: removed.length,
      modelVersion,
      scoreDate,
    };
    await oweRiskRefresh(trx, now, [...changedRows.map((r) => r.cve), ...removed]);
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "advisories.epss_imported",
        targetType: "epss",
        targetId: scoreDate ?? file ?? "epss",
        data: {
          ...counts,
          ...(file === undefined ? {} : { file }),
          ...(options.force === true ? { forced: true, storedScoreDate: newest } : {}),
        },
      },
      now,
    );
    return counts;
  });
  const classMoves = await settleMatcherWork(
    ctx,
    REFRESH_RISK,
    "re-classifying the findings of the CVEs it changed",
  );
  return { ...summary, classMoves };
}
