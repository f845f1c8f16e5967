import { z } from "zod";
import { isAppError, ValidationError } from "../../domain/errors.js";
import { type OsvRecord, parseOsvRecord } from "../osv/schema.js";

/** A record of a batch that was left out, and why. */
export const rejectedRecordSchema = z.object({
  /** Position in the batch's `records`. */
  index: z.number().int(),
  id: z.string().optional(),
  /** JSON pointer into the request: `/records/3/affected/0/ranges/0/type`. */
  where: z.string(),
  message: z.string(),
});
export type RejectedRecord = z.infer<typeof rejectedRecordSchema>;

export interface ValidatedBatch {
  records: OsvRecord[];
  /** For each valid record, its position in the batch. */
  indexes: number[];
  rejected: RejectedRecord[];
}

/** How far past the importer's clock a record's `modified` may be: clock skew between mirrors. */
export const MODIFIED_MARGIN_MS = 24 * 60 * 60 * 1000;

/** True when a `modified` time lies beyond now plus the margin: no publisher can have written it yet. */
export function isFutureModified(modified: string, now: Date): boolean {
  return Date.parse(modified) > now.getTime() + MODIFIED_MARGIN_MS;
}

/**
 * A record dated in the future would win every later comparison by date and pin itself (a correct
 * record published afterwards would look older): refused at `<pointer>/modified`.
 */
export function requireModifiedNotFuture(record: OsvRecord, now: Date, pointer: string): void {
  if (!isFutureModified(record.modified, now)) return;
  throw new ValidationError(
    `modified ${record.modified} is more than a day after now (${now.toISOString()})`,
    { reason: "osv.modified-in-future", where: `${pointer}/modified`, details: { id: record.id } },
  );
}

function idOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * Validates every record of a batch on its own: a malformed one is rejected with the JSON pointer of
 * its first problem, the others pass. `base` is the pointer of the records array in the request.
 */
export function validateBatch(
  values: readonly unknown[],
  base = "/records",
  now: Date = new Date(),
): ValidatedBatch {
  const out: ValidatedBatch = { records: [], indexes: [], rejected: [] };
  for (const [index, value] of values.entries()) {
    try {
      // The location has no file: pointerWhere then gives `#<pointer>`, and the `#` is dropped below.
      const record = parseOsvRecord(value, { file: "", pointerBase: `${base}/${index}` });
      requireModifiedNotFuture(record, now, `${base}/${index}`);
      out.records.push(record);
      out.indexes.push(index);
    } catch (err) {
      if (!isAppError(err)) throw err;
      const id = idOf(value);
      out.rejected.push({
        index,
        ...(id === undefined ? {} : { id }),
        where: (err.where ?? `${base}/${index}`).replace(/^#/, ""),
        message: err.message,
      });
    }
  }
  return out;
}
