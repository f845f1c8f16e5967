import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import { ValidationError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import type { KevEntriesTable } from "../../store/schema.js";
import { classMoveSchema } from "../findings/class-moves.js";
import type { KevCatalog } from "../kev.js";
import { lockAdvisoryImports } from "./import-lock.js";
import { checkKevReplacement, compareCatalogVersions } from "./kev-guard.js";
import { oweRiskRefresh, REFRESH_RISK, settleMatcherWork } from "./matcher-hooks.js";

/** What a KEV import did: the one schema of its shape (the API publishes it). */
export const kevSummarySchema = z.object({
  catalogVersion: z.string(),
  total: z.number().int(),
  added: z.number().int(),
  removed: z.number().int(),
  /** Entries whose facts (vendor, product, dates, ransomware use) changed. */
  changed: z.number().int(),
  unchanged: z.number().int(),
  /** Findings the new catalog moved from one class to another. */
  classMoves: z.array(classMoveSchema),
});
export type KevSummary = z.infer<typeof kevSummarySchema>;

const INSERT_CHUNK = 500;

function rowOf(catalogVersion: string, entry: KevCatalog["vulnerabilities"][number]): KevEntriesTable {
  return {
    cve: entry.cveID,
    vendor: entry.vendorProject,
    product: entry.product,
    name: entry.vulnerabilityName,
    date_added: entry.dateAdded,
    due_date: entry.dueDate,
    ransomware: entry.knownRansomwareCampaignUse?.toLowerCase() === "known" ? 1 : 0,
    catalog_version: catalogVersion,
  };
}

/** The facts a finding's risk depends on; the catalog version alone changes no classification. */
const facts = (r: KevEntriesTable) =>
  JSON.stringify([r.vendor, r.product, r.name, r.date_added, r.due_date, Number(r.ransomware)]);

function newestVersion(rows: Iterable<KevEntriesTable>): string | null {
  let newest: string | null = null;
  for (const r of rows)
    if (newest === null || compareCatalogVersions(r.catalog_version, newest) > 0) newest = r.catalog_version;
  return newest;
}

/**
 * Replaces the stored KEV set with a catalog (every row keeps the catalog's version), with one audit
 * event. An older catalog or a mass removal is refused unless forced. The transaction also owes the
 * re-classification of the findings of every CVE added, removed or changed, done right after it commits.
 */
export interface KevImportOptions {
  /** Import an older catalog, or one that removes many entries (see kev-guard.ts). */
  force?: boolean;
}

export async function importKev(
  ctx: ServiceContext,
  actor: Actor,
  catalog: KevCatalog,
  options: KevImportOptions = {},
): Promise<KevSummary> {
  const rows = new Map<string, KevEntriesTable>();
  for (const [i, entry] of catalog.vulnerabilities.entries()) {
    if (rows.has(entry.cveID)) {
      throw new ValidationError(`${entry.cveID} is listed twice in the KEV catalog`, {
        where: `/vulnerabilities/${i}/cveID`,
      });
    }
    rows.set(entry.cveID, rowOf(catalog.catalogVersion, entry));
  }
  const now = ctx.now();
  const summary = await ctx.store.write(async (trx) => {
    await lockAdvisoryImports(trx);
    const stored = new Map(
      (await trx.selectFrom("kev_entries").selectAll().execute()).map((r) => [r.cve, r]),
    );
    const touched: string[] = [];
    let added = 0;
    let changed = 0;
    for (const [cve, row] of rows) {
      const old = stored.get(cve);
      if (old === undefined) added += 1;
      else if (facts(old) !== facts(row)) changed += 1;
      else continue;
      touched.push(cve);
    }
    const removed = [...stored.keys()].filter((cve) => !rows.has(cve));
    checkKevReplacement({
      incomingVersion: catalog.catalogVersion,
      storedVersion: newestVersion(stored.values()),
      stored: stored.size,
      removed: removed.length,
      force: options.force === true,
    });
    touched.push(...removed);

    await trx.deleteFrom("kev_entries").execute();
    const values = [...rows.values()];
    for (let i = 0; i < values.length; i += INSERT_CHUNK) {
      await trx
        .insertInto("kev_entries")
        .values(values.slice(i, i + INSERT_CHUNK))
        .execute();
    }
    const summary: Omit<KevSummary, "classMoves"> = {
      catalogVersion: catalog.catalogVersion,
      total: rows.size,
      added,
      removed: removed.length,
      changed,
      unchanged: rows.size - added - changed,
    };
    await oweRiskRefresh(trx, now, touched);
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "advisories.kev_imported",
        targetType: "kev-catalog",
        targetId: catalog.catalogVersion,
        data: { ...summary, dateReleased: catalog.dateReleased },
      },
      now,
    );
    return summary;
  });
  const classMoves = await settleMatcherWork(
    ctx,
    REFRESH_RISK,
    "re-classifying the findings of the CVEs it changed",
  );
  return { ...summary, classMoves };
}
