import type { Actor } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import { type BatchSummary, importAdvisoryRecords } from "./import-records.js";
import { type RejectedRecord, validateBatch } from "./validate-batch.js";

/** Records per batch request: bounds one transaction and one request body. */
export const MAX_BATCH_RECORDS = 5000;

export interface BatchResult extends BatchSummary {
  rejected: RejectedRecord[];
}

/**
 * Imports a batch of records as received from a client: each malformed record is rejected on its own,
 * with nothing of it stored, and the rest are imported as one batch.
 */
export async function importAdvisoryBatch(
  ctx: ServiceContext,
  actor: Actor,
  batch: { source: string; records: readonly unknown[] },
): Promise<BatchResult> {
  const { records, rejected } = validateBatch(batch.records);
  const summary = await importAdvisoryRecords(ctx, actor, records, batch.source);
  return { ...summary, rejected };
}
