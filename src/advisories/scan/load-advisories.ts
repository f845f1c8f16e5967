/**
 * Loads an OSV source (file, directory or zip) into an AdvisoryIndex for an offline scan. Malformed
 * records are counted and kept with their location; they never stop the load.
 */
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { readOsvSource } from "../osv/read.js";
import type { OsvRecord } from "../osv/schema.js";

export interface MalformedAdvisory {
  /** `file:line`, `file#/pointer` or `archive.zip!entry.json` of the first problem. */
  where: string;
  message: string;
}

export interface LoadedAdvisories {
  index: AdvisoryIndex;
  /** Valid records read, withdrawn ones included. */
  records: number;
  withdrawn: number;
  malformed: MalformedAdvisory[];
}

export interface LoadProgress {
  records: number;
  malformed: number;
}

/**
 * Reads every record of `path` into an index. Throws ValidationError (`where` = the path) when the
 * path cannot be read or is not an OSV source; per-record problems are returned in `malformed`.
 */
export async function loadAdvisories(
  path: string,
  onProgress?: (progress: LoadProgress) => void,
): Promise<LoadedAdvisories> {
  const records: OsvRecord[] = [];
  const malformed: MalformedAdvisory[] = [];
  let withdrawn = 0;
  try {
    for await (const item of readOsvSource(path)) {
      if (item.record !== undefined) {
        records.push(item.record);
        if (item.record.withdrawn !== undefined) withdrawn += 1;
      } else {
        malformed.push({
          where: item.error?.where ?? item.location,
          message: item.error?.message ?? "invalid OSV record",
        });
      }
      onProgress?.({ records: records.length, malformed: malformed.length });
    }
  } catch (err) {
    // A path that is not there is bad input to a command, like any other unreadable file.
    if (err instanceof NotFoundError) {
      throw new ValidationError(err.message, { where: err.where ?? path, cause: err });
    }
    throw err;
  }
  return { index: AdvisoryIndex.fromRecords(records), records: records.length, withdrawn, malformed };
}
