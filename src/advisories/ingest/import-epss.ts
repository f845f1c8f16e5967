import { appendAudit } from "../../audit/log.js";
import { ValidationError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import type { EpssScoresTable } from "../../store/schema.js";
import type { EpssEntry } from "../epss.js";
import { lockAdvisoryImports } from "./import-lock.js";
import { oweRiskRefresh, REFRESH_RISK, settleMatcherWork } from "./matcher-hooks.js";

export interface EpssSummary {
  total: number;
  added: number;
  updated: number;
  unchanged: number;
  modelVersion: string | null;
  scoreDate: string | null;
}

const CVE_CHUNK = 500;
/** PostgreSQL keeps `real` as float4: a score read back may differ from the file's in the 7th digit. */
const SAME_SCORE = 1e-6;

const sameScore = (a: number, b: number) => Math.abs(a - b) < SAME_SCORE;

/**
 * Upserts EPSS scores (CVEs not in `entries` keep theirs) with one audit event; the transaction also
 * owes the re-classification of the findings of every CVE whose score changed, done after it commits.
 * `file` names the input in errors and the event.
 */
export async function importEpss(
  ctx: ServiceContext,
  actor: Actor,
  entries: readonly EpssEntry[],
  file?: string,
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
    const cves = [...rows.keys()];
    const stored = new Map<string, EpssScoresTable>();
    for (let i = 0; i < cves.length; i += CVE_CHUNK) {
      const found = await trx
        .selectFrom("epss_scores")
        .selectAll()
        .where("cve", "in", cves.slice(i, i + CVE_CHUNK))
        .execute();
      for (const row of found) stored.set(row.cve, row);
    }
    const changedRows = [...rows.values()].filter((row) => {
      const old = stored.get(row.cve);
      return (
        old === undefined ||
        !sameScore(Number(old.epss), row.epss) ||
        !sameScore(Number(old.percentile), row.percentile) ||
        old.score_date !== row.score_date
      );
    });
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
    const summary: EpssSummary = {
      total: rows.size,
      added,
      updated: changedRows.length - added,
      unchanged: rows.size - changedRows.length,
      modelVersion,
      scoreDate,
    };
    await oweRiskRefresh(
      trx,
      now,
      changedRows.map((r) => r.cve),
    );
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "advisories.epss_imported",
        targetType: "epss",
        targetId: scoreDate ?? file ?? "epss",
        data: { ...summary, ...(file === undefined ? {} : { file }) },
      },
      now,
    );
    return summary;
  });
  await settleMatcherWork(ctx, REFRESH_RISK, "re-classifying the findings of the CVEs it changed");
  return summary;
}
