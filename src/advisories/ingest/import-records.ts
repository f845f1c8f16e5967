import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAudit } from "../../audit/log.js";
import { ValidationError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database } from "../../store/schema.js";
import { classMoveSchema } from "../findings/class-moves.js";
import type { OsvRecord } from "../osv/schema.js";
import { type AdvisoryRows, advisoryRows } from "./advisory-rows.js";
import { lockAdvisoryImports } from "./import-lock.js";
import { oweRematch, type PackageKey, REMATCH_PACKAGES, settleMatcherWork } from "./matcher-hooks.js";
import { isFutureModified, requireModifiedNotFuture } from "./validate-batch.js";

/** What one batch did. Each record counts once: added, updated, unchanged or retired. */
export const batchSummarySchema = z.object({
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  /** Records that withdraw an advisory (new or stored): the row is kept, its packages are dropped. */
  retired: z.number().int(),
  /** GIT ranges in the records written by this batch: stored, never evaluated. */
  gitRanges: z.number().int(),
  /** Findings the re-match after the batch moved from one class to another; absent when none moved. */
  classMoves: z.array(classMoveSchema).optional(),
});
export type BatchSummary = z.infer<typeof batchSummarySchema>;

export type RecordOutcome = "added" | "updated" | "unchanged" | "retired";

export const EMPTY_BATCH_SUMMARY: Readonly<BatchSummary> = {
  added: 0,
  updated: 0,
  unchanged: 0,
  retired: 0,
  gitRanges: 0,
};

/** Ids per `IN (…)` list and rows per INSERT: well under both dialects' bound-parameter limits. */
const ID_CHUNK = 500;
const ADVISORY_CHUNK = 200;
const PACKAGE_CHUNK = 1000;
const ALIAS_CHUNK = 2000;
/** How many changed ids the audit event names; the counts are always exact. */
const CHANGES_KEPT = 200;

interface StoredState {
  modified: string;
  withdrawn: string | null;
  record: string;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The import's decision for one record given what is stored (or was decided earlier in the batch). */
export function decideOutcome(
  stored: StoredState | undefined,
  incoming: AdvisoryRows,
  now: Date = new Date(),
): RecordOutcome {
  const next = incoming.advisory;
  if (stored === undefined) return next.withdrawn === null ? "added" : "retired";
  // `record` is the canonical JSON of the record: equal text is equal content, whatever the dates say.
  if (stored.record === next.record) return "unchanged";
  // An older copy of a stored advisory (a stale mirror) never replaces the newer one, unless the stored
  // date is one no publisher can have written yet (stored before such dates were refused).
  if (Date.parse(next.modified) < Date.parse(stored.modified) && !isFutureModified(stored.modified, now))
    return "unchanged";
  return next.withdrawn !== null && stored.withdrawn === null ? "retired" : "updated";
}

export function validateSource(source: string): string {
  const trimmed = source.trim();
  if (trimmed === "" || trimmed.length > 1000) {
    throw new ValidationError("the source must name what the records came from (1–1000 characters)", {
      where: "source",
    });
  }
  return trimmed;
}

async function storedStates(
  trx: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, StoredState>> {
  const stored = new Map<string, StoredState>();
  for (const chunk of chunks(ids, ID_CHUNK)) {
    const rows = await trx
      .selectFrom("advisories")
      .select(["id", "modified", "withdrawn", "record"])
      .where("id", "in", chunk)
      .execute();
    for (const row of rows) stored.set(row.id, row);
  }
  return stored;
}

/**
 * Imports a batch of validated OSV records: upserts by id and `modified`, retires withdrawn ones, and
 * writes advisories, their packages and aliases with one `advisories.imported` audit event, all in one
 * transaction, which also records the re-match it owes of every package whose advisories changed;
 * that re-match runs right after the commit (or, after a crash, in the work loop).
 */
export async function importAdvisoryRecords(
  ctx: ServiceContext,
  actor: Actor,
  records: readonly OsvRecord[],
  source: string,
): Promise<BatchSummary> {
  const from = validateSource(source);
  if (records.length === 0) return { ...EMPTY_BATCH_SUMMARY };
  const now = ctx.now();
  for (const [i, r] of records.entries()) requireModifiedNotFuture(r, now, `/records/${i}`);
  const prepared = records.map(advisoryRows);
  const summary = await ctx.store.write(async (trx) => {
    await lockAdvisoryImports(trx);
    const stored = await storedStates(trx, [...new Set(prepared.map((p) => p.advisory.id))]);
    // Records are decided in order, so a later copy of an id in the same batch sees the earlier one.
    const current = new Map(stored);
    const writes = new Map<string, AdvisoryRows>();
    const counts: BatchSummary = { ...EMPTY_BATCH_SUMMARY };
    const changes: Array<{ id: string; outcome: RecordOutcome }> = [];
    for (const rows of prepared) {
      const { id } = rows.advisory;
      const outcome = decideOutcome(current.get(id), rows, now);
      counts[outcome] += 1;
      if (outcome === "unchanged") continue;
      current.set(id, rows.advisory);
      writes.set(id, rows);
      changes.push({ id, outcome });
    }
    for (const rows of writes.values()) {
      if (rows.advisory.withdrawn === null) counts.gitRanges += rows.advisory.git_ranges;
    }

    const replaced = [...writes.keys()].filter((id) => stored.has(id));
    const keys = new Map<string, PackageKey>();
    const addKey = (ecosystem: string, name: string) =>
      keys.set(`${ecosystem}\u0000${name}`, { ecosystem, name });
    for (const chunk of chunks(replaced, ID_CHUNK)) {
      const old = await trx
        .selectFrom("advisory_packages")
        .select(["ecosystem", "name"])
        .where("advisory_id", "in", chunk)
        .execute();
      for (const p of old) addKey(p.ecosystem, p.name);
      await trx.deleteFrom("advisory_packages").where("advisory_id", "in", chunk).execute();
      await trx.deleteFrom("advisory_aliases").where("advisory_id", "in", chunk).execute();
      await trx.deleteFrom("advisories").where("id", "in", chunk).execute();
    }

    const written = [...writes.values()];
    const at = now.toISOString();
    for (const chunk of chunks(written, ADVISORY_CHUNK)) {
      await trx
        .insertInto("advisories")
        .values(chunk.map((r) => ({ ...r.advisory, source: from, imported_at: at })))
        .execute();
    }
    const packages = written.flatMap((r) => r.packages);
    for (const p of packages) addKey(p.ecosystem, p.name);
    for (const chunk of chunks(packages, PACKAGE_CHUNK)) {
      await trx.insertInto("advisory_packages").values(chunk).execute();
    }
    const aliases = written.flatMap((r) => r.aliases.map((alias) => ({ alias, advisory_id: r.advisory.id })));
    for (const chunk of chunks(aliases, ALIAS_CHUNK)) {
      await trx.insertInto("advisory_aliases").values(chunk).execute();
    }

    await oweRematch(trx, now, [...keys.values()]);
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "advisories.imported",
        targetType: "advisory-source",
        targetId: from,
        data: {
          source: from,
          records: records.length,
          ...counts,
          changes: changes.slice(0, CHANGES_KEPT),
          truncated: changes.length > CHANGES_KEPT,
        },
      },
      now,
    );
    return counts;
  });

  const classMoves = await settleMatcherWork(ctx, REMATCH_PACKAGES, "re-matching the packages it changed");
  return classMoves.length === 0 ? summary : { ...summary, classMoves };
}
