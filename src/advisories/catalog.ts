/** Queries over stored advisories, with the KEV and EPSS facts of their CVE aliases. */
import type { Selectable } from "kysely";
import { z } from "zod";
import { NotFoundError, ValidationError } from "../domain/errors.js";
import type { ServiceContext } from "../service/context.js";
import { rowsInChunks } from "../store/chunks.js";
import type { AdvisoriesTable } from "../store/schema.js";
import { ecosystemParts } from "./matching/ecosystem-key.js";

const summaryFields = {
  id: z.string(),
  summary: z.string(),
  modified: z.string(),
  published: z.string().nullable(),
  withdrawn: z.string().nullable(),
  aliases: z.array(z.string()),
  severity: z.object({
    score: z.number().nullable(),
    vector: z.string().nullable(),
    version: z.string().nullable(),
  }),
  /** GIT ranges in the record: stored, never evaluated. */
  gitRanges: z.number().int(),
  source: z.string(),
  importedAt: z.string(),
};

/** An advisory as listed: the one schema of its shape (the API publishes it). */
export const advisorySummarySchema = z
  .object({
    ...summaryFields,
    /** Affected packages, each (ecosystem, name) once; none for a withdrawn advisory. */
    packages: z.array(z.object({ ecosystem: z.string(), name: z.string() })),
  })
  .meta({ id: "AdvisorySummary" });

const kevFactSchema = z.object({
  cve: z.string(),
  vendor: z.string(),
  product: z.string(),
  name: z.string(),
  dateAdded: z.string(),
  dueDate: z.string().nullable(),
  knownRansomwareUse: z.boolean(),
  catalogVersion: z.string(),
});

const epssFactSchema = z.object({
  cve: z.string(),
  epss: z.number(),
  percentile: z.number(),
  scoreDate: z.string().nullable(),
});

/** One advisory with its record and the KEV and EPSS facts of its CVE aliases. */
export const advisoryDetailSchema = z
  .object({
    ...summaryFields,
    packages: z.array(z.object({ ecosystem: z.string(), release: z.string(), name: z.string() })),
    /** The OSV record as imported (unknown top-level fields dropped). */
    record: z.record(z.string(), z.unknown()),
    kev: z.array(kevFactSchema),
    epss: z.array(epssFactSchema),
  })
  .meta({ id: "AdvisoryDetail" });

export type AdvisorySummary = z.infer<typeof advisorySummarySchema>;
export type KevFact = z.infer<typeof kevFactSchema>;
export type EpssFact = z.infer<typeof epssFactSchema>;
export type AdvisoryDetail = z.infer<typeof advisoryDetailSchema>;

export interface AdvisoryQuery {
  /** An OSV ecosystem or alias: "Go", "pypi", "Debian:12" (a release narrows to it). */
  ecosystem?: string;
  /** Exact package name as the advisory spells it. */
  package?: string;
  /** An advisory id or any of its aliases (CVE, GHSA, …). */
  id?: string;
  limit?: number;
  /** Advisories with ids after this one (paging). */
  after?: string;
}

export interface AdvisoryPage {
  advisories: AdvisorySummary[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

function summaryOf(row: Selectable<AdvisoriesTable>, packages: AdvisorySummary["packages"]): AdvisorySummary {
  return {
    id: row.id,
    summary: row.summary,
    modified: row.modified,
    published: row.published,
    withdrawn: row.withdrawn,
    aliases: JSON.parse(row.aliases) as string[],
    severity: {
      score: row.severity_score === null ? null : Number(row.severity_score),
      vector: row.severity_vector,
      version: row.severity_version,
    },
    gitRanges: Number(row.git_ranges),
    source: row.source,
    importedAt: row.imported_at,
    packages,
  };
}

export async function listAdvisories(ctx: ServiceContext, query: AdvisoryQuery = {}): Promise<AdvisoryPage> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ValidationError(`limit must be a whole number from 1 to ${MAX_LIMIT}`, { where: "limit" });
  }
  const ecosystem = query.ecosystem?.trim() ? ecosystemParts(query.ecosystem.trim()) : null;
  const name = query.package?.trim() || null;
  const db = ctx.store.db;
  const rows = await db
    .selectFrom("advisories")
    .selectAll()
    .$if(query.after !== undefined, (q) => q.where("id", ">", query.after ?? ""))
    .$if(ecosystem !== null || name !== null, (q) =>
      q.where("id", "in", (eb) =>
        eb
          .selectFrom("advisory_packages")
          .select("advisory_id")
          .$if(ecosystem !== null, (s) => s.where("ecosystem", "=", ecosystem?.base ?? ""))
          .$if(ecosystem !== null && ecosystem.release !== "", (s) =>
            s.where("ecosystem_release", "=", ecosystem?.release ?? ""),
          )
          .$if(name !== null, (s) => s.where("name", "=", name ?? "")),
      ),
    )
    .$if(query.id !== undefined, (q) =>
      q.where("id", "in", (eb) =>
        eb
          .selectFrom("advisory_aliases")
          .select("advisory_id")
          .where("alias", "=", query.id ?? ""),
      ),
    )
    .orderBy("id")
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const packages = new Map<string, Map<string, { ecosystem: string; name: string }>>();
  if (page.length > 0) {
    const found = await db
      .selectFrom("advisory_packages")
      .select(["advisory_id", "ecosystem", "name"])
      .where(
        "advisory_id",
        "in",
        page.map((r) => r.id),
      )
      .orderBy("advisory_id")
      .orderBy("idx")
      .execute();
    for (const p of found) {
      const list = packages.get(p.advisory_id) ?? new Map<string, { ecosystem: string; name: string }>();
      list.set(`${p.ecosystem}\u0000${p.name}`, { ecosystem: p.ecosystem, name: p.name });
      packages.set(p.advisory_id, list);
    }
  }
  return {
    advisories: page.map((row) => summaryOf(row, [...(packages.get(row.id)?.values() ?? [])])),
    next: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/**
 * One advisory by id with its record and the KEV and EPSS facts of its CVE ids. An alias (a CVE
 * id, say) finds the advisory when exactly one advisory has it; NotFoundError names them otherwise.
 */
export async function getAdvisory(ctx: ServiceContext, id: string): Promise<AdvisoryDetail> {
  const db = ctx.store.db;
  let row = await db.selectFrom("advisories").selectAll().where("id", "=", id).executeTakeFirst();
  if (row === undefined) {
    const owners = await db
      .selectFrom("advisory_aliases")
      .select("advisory_id")
      .where("alias", "=", id)
      .orderBy("advisory_id")
      .execute();
    if (owners.length !== 1) {
      const named = owners.map((o) => o.advisory_id);
      throw new NotFoundError(
        named.length === 0
          ? `no advisory ${id}`
          : `${id} is an alias of ${named.join(", ")}: show one of them`,
        { details: { aliasOf: named } },
      );
    }
    row = await db
      .selectFrom("advisories")
      .selectAll()
      .where("id", "=", owners[0]?.advisory_id ?? "")
      .executeTakeFirstOrThrow();
  }
  const summary = summaryOf(row, []);
  const cves = [...new Set([row.id, ...summary.aliases].filter((a) => a.startsWith("CVE-")))].sort();
  const [packages, kev, epss] = await Promise.all([
    db
      .selectFrom("advisory_packages")
      .select(["ecosystem", "ecosystem_release", "name"])
      .where("advisory_id", "=", row.id)
      .orderBy("idx")
      .execute(),
    // A record's aliases are input: read them a chunk at a time (each chunk is in CVE order, and so are the chunks).
    rowsInChunks(cves, (chunk) =>
      db.selectFrom("kev_entries").selectAll().where("cve", "in", chunk).orderBy("cve").execute(),
    ),
    rowsInChunks(cves, (chunk) =>
      db.selectFrom("epss_scores").selectAll().where("cve", "in", chunk).orderBy("cve").execute(),
    ),
  ]);
  return {
    ...summary,
    packages: packages.map((p) => ({ ecosystem: p.ecosystem, release: p.ecosystem_release, name: p.name })),
    record: JSON.parse(row.record) as Record<string, unknown>,
    kev: kev.map((k) => ({
      cve: k.cve,
      vendor: k.vendor,
      product: k.product,
      name: k.name,
      dateAdded: k.date_added,
      dueDate: k.due_date,
      knownRansomwareUse: Number(k.ransomware) === 1,
      catalogVersion: k.catalog_version,
    })),
    epss: epss.map((e) => ({
      cve: e.cve,
      epss: Number(e.epss),
      percentile: Number(e.percentile),
      scoreDate: e.score_date,
    })),
  };
}
