import { isAppError } from "../../domain/errors.js";
import { type OsvRecord, parseOsvRecord } from "../osv/schema.js";

/** A record of a batch that was left out, and why. */
export interface RejectedRecord {
  /** Position in the batch's `records`. */
  index: number;
  id?: string;
  /** JSON pointer into the request: `/records/3/affected/0/ranges/0/type`. */
  where: string;
  message: string;
}

export interface ValidatedBatch {
  records: OsvRecord[];
  /** For each valid record, its position in the batch. */
  indexes: number[];
  rejected: RejectedRecord[];
}

function idOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * Validates every record of a batch on its own: a malformed one is rejected with the JSON pointer of
 * its first problem, the others pass. `base` is the pointer of the records array in the request.
 */
export function validateBatch(values: readonly unknown[], base = "/records"): ValidatedBatch {
  const out: ValidatedBatch = { records: [], indexes: [], rejected: [] };
  for (const [index, value] of values.entries()) {
    try {
      // The location has no file: pointerWhere then gives `#<pointer>`, and the `#` is dropped below.
      out.records.push(parseOsvRecord(value, { file: "", pointerBase: `${base}/${index}` }));
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
