import { z } from "zod";
import { isAppError } from "../../domain/errors.js";
import type { Actor } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import type { OsvRecord } from "../osv/schema.js";
import { batchSummarySchema, importAdvisoryRecords } from "./import-records.js";
import {
  type RejectedRecord,
  rejectedRecordSchema,
  requireModifiedNotFuture,
  validateBatch,
} from "./validate-batch.js";

/** Records per batch request: bounds one transaction and one request body. */
export const MAX_BATCH_RECORDS = 5000;

/** What a batch import did, with each rejected record: the one schema of its shape (the API publishes it). */
export const batchResultSchema = batchSummarySchema.extend({ rejected: z.array(rejectedRecordSchema) });
export type BatchResult = z.infer<typeof batchResultSchema>;

/**
 * Imports a batch of records as received from a client: each malformed record is rejected on its own,
 * with nothing of it stored, and the rest are imported as one batch.
 */
export async function importAdvisoryBatch(
  ctx: ServiceContext,
  actor: Actor,
  batch: { source: string; records: readonly unknown[] },
): Promise<BatchResult> {
  const { records, rejected } = validateBatch(batch.records, "/records", ctx.now());
  const summary = await importAdvisoryRecords(ctx, actor, records, batch.source);
  return { ...summary, rejected };
}

/**
 * Imports records already parsed (an offline import reads and parses them itself): the checks that
 * need the clock still reject each bad record on its own, as the batch route does.
 */
export async function importParsedRecords(
  ctx: ServiceContext,
  actor: Actor,
  parsed: readonly OsvRecord[],
  source: string,
): Promise<BatchResult> {
  const now = ctx.now();
  const records: OsvRecord[] = [];
  const rejected: RejectedRecord[] = [];
  parsed.forEach((record, index) => {
    try {
      requireModifiedNotFuture(record, now, `/records/${index}`);
      records.push(record);
    } catch (err) {
      if (!isAppError(err)) throw err;
      rejected.push({ index, id: record.id, where: err.where ?? `/records/${index}`, message: err.message });
    }
  });
  const summary = await importAdvisoryRecords(ctx, actor, records, source);
  return { ...summary, rejected };
}
