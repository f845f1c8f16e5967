/**
 * Puts advisories, KEV entries and EPSS scores straight into the store for tests that exercise
 * matching and findings without going through an import.
 */
import type { Kysely } from "kysely";
import { entriesOf } from "../../src/advisories/matching/advisory-index.js";
import { type OsvRecord, parseOsvRecord } from "../../src/advisories/osv/schema.js";
import type { Database } from "../../src/store/schema.js";

/** Inserts (or replaces) OSV records: the advisory row, one package row per affected[] entry, the aliases. */
export async function insertAdvisories(
  db: Kysely<Database>,
  records: readonly unknown[],
  importedAt = "2026-11-20T00:00:00.000Z",
): Promise<OsvRecord[]> {
  const parsed = records.map((r, i) => parseOsvRecord(r, { file: "test", pointerBase: `/${i}` }));
  await db.transaction().execute(async (trx) => {
    for (const record of parsed) {
      await trx.deleteFrom("advisories").where("id", "=", record.id).execute();
      const entries = entriesOf(record);
      const severity = entries[0]?.severity ?? { score: null, vector: null, version: null };
      await trx
        .insertInto("advisories")
        .values({
          id: record.id,
          modified: record.modified,
          published: record.published ?? null,
          withdrawn: record.withdrawn ?? null,
          summary: record.summary ?? "",
          aliases: JSON.stringify(record.aliases ?? []),
          severity_score: severity.score,
          severity_vector: severity.vector,
          severity_version: severity.version,
          git_ranges: 0,
          record: JSON.stringify(record),
          source: "test",
          imported_at: importedAt,
        })
        .execute();
      if (entries.length > 0) {
        await trx
          .insertInto("advisory_packages")
          .values(
            entries.map((e, idx) => ({
              advisory_id: record.id,
              idx,
              ecosystem: e.ecosystem,
              ecosystem_release: e.ecosystemRelease,
              name: e.name,
              affected: JSON.stringify(e.affected),
            })),
          )
          .execute();
      }
      const aliases = [...new Set([record.id, ...(record.aliases ?? [])])];
      await trx
        .insertInto("advisory_aliases")
        .values(aliases.map((alias) => ({ alias, advisory_id: record.id })))
        .execute();
    }
  });
  return parsed;
}

export async function insertKev(db: Kysely<Database>, cves: readonly string[]): Promise<void> {
  await db
    .insertInto("kev_entries")
    .values(
      cves.map((cve) => ({
        cve,
        vendor: "test",
        product: "test",
        name: `${cve} test entry`,
        date_added: "2026-11-01",
        due_date: "2026-11-22",
        ransomware: 0,
        catalog_version: "2026.11.01",
      })),
    )
    .execute();
}

export async function insertEpss(
  db: Kysely<Database>,
  scores: Readonly<Record<string, number>>,
): Promise<void> {
  await db
    .insertInto("epss_scores")
    .values(
      Object.entries(scores).map(([cve, epss]) => ({ cve, epss, percentile: 0.9, score_date: "2026-11-19" })),
    )
    .execute();
}

/** A Debian advisory: one affected[] entry for one release, keyed by source package, its CVE as an alias. */
export function debianAdvisory(options: {
  id: string;
  cve?: string;
  source: string;
  release?: string;
  fixed?: string;
  introduced?: string;
  cvss?: string;
  modified?: string;
  withdrawn?: string;
}): Record<string, unknown> {
  const events: Array<Record<string, string>> = [{ introduced: options.introduced ?? "0" }];
  if (options.fixed) events.push({ fixed: options.fixed });
  return {
    id: options.id,
    modified: options.modified ?? "2026-11-01T00:00:00Z",
    published: "2026-10-01T00:00:00Z",
    ...(options.withdrawn ? { withdrawn: options.withdrawn } : {}),
    summary: `${options.source}: test vulnerability ${options.cve ?? options.id}`,
    aliases: options.cve ? [options.cve] : [],
    ...(options.cvss ? { severity: [{ type: "CVSS_V3", score: options.cvss }] } : {}),
    affected: [
      {
        package: { ecosystem: `Debian:${options.release ?? "12"}`, name: options.source },
        ranges: [{ type: "ECOSYSTEM", events }],
      },
    ],
  };
}
