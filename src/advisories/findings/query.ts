/** Reading findings: one by id, and pages filtered by class, status, asset selector, overdue and vulnerability. */
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import { jsonPointer, NotFoundError, ValidationError } from "../../domain/errors.js";
import type { AssetKind } from "../../domain/inventory.js";
import { matchesSelector, parseSelector, selectorView } from "../../domain/selector.js";
import { CHANGE_CLASSES } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database } from "../../store/schema.js";
import { FINDING_STATUSES, type Finding, rowToFinding } from "./finding.js";
import { findingRowNum } from "./finding-rows.js";

export const findingsQuerySchema = z.object({
  class: z.enum(CHANGE_CLASSES).optional(),
  /** A status, or `all`; unresolved findings (all but fixed) when absent. */
  status: z.enum([...FINDING_STATUSES, "all"]).optional(),
  /** An asset label selector, e.g. `environment=prod,group in (web,api)`. */
  selector: z.string().optional(),
  /** Only open findings past their due date. */
  overdue: z.boolean().optional(),
  /** A vulnerability id or any of its aliases. */
  vuln: z.string().min(1).optional(),
  /** An asset name. */
  asset: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(1000).optional(),
  /** The `next` of the previous page. */
  after: z.string().optional(),
});
export type FindingsQuery = z.infer<typeof findingsQuerySchema>;

export interface FindingsPage {
  findings: Finding[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

const IDS_PER_QUERY = 1000;

/** Findings with their asset's name, as rowToFinding reads them. */
export function findingsWithAsset(db: Kysely<Database>) {
  return db
    .selectFrom("findings as f")
    .innerJoin("assets as a", "a.id", "f.asset_id")
    .selectAll("f")
    .select("a.name as asset_name");
}

export async function getFinding(ctx: ServiceContext, id: string): Promise<Finding> {
  // By row number: the view's id is computed, so only the number reaches an index.
  const num = await findingRowNum(ctx.store.db, id);
  const row =
    num === undefined
      ? undefined
      : await findingsWithAsset(ctx.store.db).where("f.row_num", "=", num).executeTakeFirst();
  if (!row) throw new NotFoundError(`no finding ${id}`);
  return rowToFinding(row, ctx.now());
}

// Pages run by score (highest first) then id; the cursor carries both.
function encodeCursor(score: number, id: string): string {
  return Buffer.from(JSON.stringify([score, id])).toString("base64url");
}

function decodeCursor(text: string): { score: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string") {
      return { score: value[0], id: value[1] };
    }
  } catch {
    // Reported below with where it came from.
  }
  throw new ValidationError("not a cursor this server handed out: pass the `next` of the previous page", {
    reason: "request.invalid-cursor",
    where: "/query/cursor",
  });
}

/** `%"id"%` for a LIKE over a JSON array of ids, with LIKE's wildcards escaped. */
export function jsonIdPattern(id: string): string {
  return `%${JSON.stringify(id).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A page of findings, highest risk first. Unknown asset names are NotFoundError, bad selectors ValidationError. */
export async function listFindings(ctx: ServiceContext, query: FindingsQuery = {}): Promise<FindingsPage> {
  const parsed = findingsQuerySchema.safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(issue?.message ?? "invalid query", { where: jsonPointer(issue?.path ?? []) });
  }
  const q = parsed.data;
  const db = ctx.store.db;
  const now = ctx.now();
  const limit = q.limit ?? 100;
  const cursor = q.after === undefined ? null : decodeCursor(q.after);

  let assetIds: string[] | null = null;
  if (q.asset !== undefined) {
    const asset = await db.selectFrom("assets").select("id").where("name", "=", q.asset).executeTakeFirst();
    if (!asset) throw new NotFoundError(`no asset named "${q.asset}"`, { where: "/asset" });
    assetIds = [asset.id];
  }
  if (q.selector !== undefined && q.selector.trim() !== "") {
    const selector = parseSelector(q.selector);
    const rows = await db.selectFrom("assets").selectAll().execute();
    const chosen = rows
      .filter((a) =>
        matchesSelector(
          selector,
          selectorView({
            name: a.name,
            kind: a.kind as AssetKind,
            environment: a.environment,
            group: a.group_name,
            region: a.region,
            owner: a.owner,
            criticality: Number(a.criticality),
            labels: JSON.parse(a.labels) as Record<string, string>,
          }),
        ),
      )
      .map((a) => a.id);
    assetIds = assetIds === null ? chosen : assetIds.filter((id) => chosen.includes(id));
  }
  if (assetIds !== null && assetIds.length === 0) return { findings: [], next: null };

  const findings: Finding[] = [];
  // Large selections are read in slices of asset ids and merged; each slice is already in page order.
  const slices = assetIds === null ? [null] : chunk(assetIds, IDS_PER_QUERY);
  for (const ids of slices) {
    const rows = await findingsWithAsset(db)
      .$if(ids !== null, (b) => b.where("f.asset_id", "in", ids ?? []))
      .$if(q.status === undefined, (b) => b.where("f.status", "!=", "fixed"))
      .$if(q.status !== undefined && q.status !== "all", (b) => b.where("f.status", "=", q.status ?? ""))
      .$if(q.class !== undefined, (b) => b.where("f.class", "=", q.class ?? ""))
      .$if(q.overdue === true, (b) =>
        b.where("f.status", "=", "open").where("f.due_at", "<", now.toISOString()),
      )
      .$if(q.vuln !== undefined, (b) =>
        b.where((eb) =>
          eb.or([
            eb("f.vuln_id", "=", q.vuln ?? ""),
            sql<boolean>`${sql.ref("f.aliases")} like ${jsonIdPattern(q.vuln ?? "")} escape '\\'`,
          ]),
        ),
      )
      .$if(cursor !== null, (b) =>
        b.where((eb) =>
          eb.or([
            eb("f.risk_score", "<", cursor?.score ?? 0),
            eb.and([eb("f.risk_score", "=", cursor?.score ?? 0), eb("f.id", ">", cursor?.id ?? "")]),
          ]),
        ),
      )
      .orderBy("f.risk_score", "desc")
      .orderBy("f.id")
      .limit(limit + 1)
      .execute();
    findings.push(...rows.map((r) => rowToFinding(r, now)));
  }
  findings.sort((a, b) => b.riskScore - a.riskScore || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = findings.slice(0, limit);
  const last = page.at(-1);
  return {
    findings: page,
    next: findings.length > limit && last ? encodeCursor(last.riskScore, last.id) : null,
  };
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
