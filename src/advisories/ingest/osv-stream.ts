/**
 * Streams OSV records from a reader into batches and imports them through a sink (the server's batch
 * route, or the service on a local store), one batch in flight while the next is read.
 */

import { mergeMoves } from "../findings/class-moves.js";
import type { OsvSourceItem } from "../osv/read.js";
import type { OsvRecord } from "../osv/schema.js";
import type { BatchResult } from "./import-batch.js";
import { type BatchSummary, EMPTY_BATCH_SUMMARY } from "./import-records.js";

/** A record left out of the import, located in its file. */
export interface StreamRejection {
  /** `file:line`, `file#/pointer`, `file:line#/pointer`, `archive.zip!entry.json#/pointer`. */
  where: string;
  id?: string;
  message: string;
}

export interface StreamSummary extends BatchSummary {
  /** Records read, good and bad. */
  records: number;
  rejected: StreamRejection[];
}

export interface StreamProgress {
  /** Records read so far: the total as far as it is known. */
  read: number;
  /** Records imported or rejected so far. */
  done: number;
}

export interface StreamOptions {
  batchSize: number;
  /** Imports one batch; a rejection's `index` is a position in `records`. */
  send(records: OsvRecord[]): Promise<BatchSummary & { rejected?: BatchResult["rejected"] }>;
  onProgress?(progress: StreamProgress): void;
}

/** `/records/3/affected/0` of a batch request, re-rooted at the record's own location in its file. */
export function locateRejection(location: string, index: number, where: string): string {
  const prefix = `/records/${index}`;
  const rest = where.startsWith(prefix) ? where.slice(prefix.length) : "";
  if (rest === "") return location;
  return location.includes("#") ? `${location}${rest}` : `${location}#${rest}`;
}

/** How often, in records read, progress is reported between batches. */
const PROGRESS_EVERY = 250;

export async function importOsvStream(
  items: AsyncIterable<OsvSourceItem>,
  options: StreamOptions,
): Promise<StreamSummary> {
  const summary: StreamSummary = { ...EMPTY_BATCH_SUMMARY, records: 0, rejected: [] };
  let done = 0;
  let inFlight: Promise<void> | null = null;
  // Kept, not thrown from the pending promise: nobody awaits it until the next batch is read.
  let failure: { error: unknown } | null = null;
  const report = () => options.onProgress?.({ read: summary.records, done });

  const send = (records: OsvRecord[], locations: string[]): Promise<void> =>
    options.send(records).then(
      (result) => {
        for (const key of ["added", "updated", "unchanged", "retired", "gitRanges"] as const) {
          summary[key] += result[key];
        }
        if (result.classMoves !== undefined && result.classMoves.length > 0) {
          summary.classMoves = mergeMoves([summary.classMoves ?? [], result.classMoves]);
        }
        for (const r of result.rejected ?? []) {
          const location = locations[r.index] ?? "";
          summary.rejected.push({
            where: locateRejection(location, r.index, r.where),
            ...(r.id === undefined ? {} : { id: r.id }),
            message: r.message,
          });
        }
        done += records.length;
        report();
      },
      (error: unknown) => {
        failure = { error };
      },
    );

  const flush = async (records: OsvRecord[], locations: string[]) => {
    if (inFlight) await inFlight;
    if (failure) throw failure.error;
    inFlight = records.length === 0 ? null : send(records, locations);
  };

  let records: OsvRecord[] = [];
  let locations: string[] = [];
  for await (const item of items) {
    summary.records += 1;
    if (item.record) {
      records.push(item.record);
      locations.push(item.location);
    } else {
      const id = item.error?.details?.id;
      summary.rejected.push({
        where: item.error?.where ?? item.location,
        ...(typeof id === "string" ? { id } : {}),
        message: item.error?.message ?? "unreadable record",
      });
      done += 1;
    }
    if (records.length >= options.batchSize) {
      await flush(records, locations);
      records = [];
      locations = [];
    }
    if (summary.records % PROGRESS_EVERY === 0) report();
  }
  await flush(records, locations);
  await flush([], []);
  report();
  return summary;
}
