import type { Kysely } from "kysely";
import { ValidationError } from "../domain/errors.js";
import type { Database } from "../store/schema.js";
import { walkAnchored } from "./anchored-walk.js";
import { type CheckpointBody, signCheckpoint } from "./checkpoint.js";
import { rowToEvent } from "./log.js";
import type { AuditSigningKey } from "./signing-key.js";

export interface ExportRange {
  /** Events at or after this instant (as `parseInstant` gives it). */
  since?: string;
  /** Events before this instant. */
  until?: string;
}

/** An instant from a flag or query parameter, as the log stores them (UTC, milliseconds). */
export function parseInstant(value: string, where: string): string {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new ValidationError(`"${value}" is not an ISO 8601 date or time (e.g. 2026-01-31T12:00:00Z)`, {
      where,
    });
  }
  return new Date(ms).toISOString();
}

/**
 * The export of a range as JSON Lines: each event as the API shows it (its `hash` is SHA-256 of the
 * RFC 8785 JSON of the other fields), then one signed checkpoint of the last event with `first`, the
 * first event's number. The range is verified before anything is signed; a broken chain fails here,
 * before the first line is written.
 */
export async function exportAudit(
  db: Kysely<Database>,
  key: AuditSigningKey,
  anchor: CheckpointBody | null,
  range: ExportRange,
  now: Date,
): Promise<AsyncIterable<string>> {
  const { since, until } = range;
  const head = await db.selectFrom("audit_head").select("seq").where("id", "=", 1).executeTakeFirst();
  const headSeq = Number(head?.seq ?? 0);
  const firstRow =
    since === undefined
      ? undefined
      : await db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.min("seq").as("seq"))
          .where("at", ">=", since)
          .executeTakeFirst();
  const lastRow =
    until === undefined
      ? undefined
      : await db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.max("seq").as("seq"))
          .where("at", "<", until)
          .executeTakeFirst();
  const last = until === undefined ? headSeq : Number(lastRow?.seq ?? 0);
  const wanted = since === undefined ? 1 : firstRow?.seq == null ? headSeq + 1 : Number(firstRow.seq);
  // An empty range still gets a checkpoint: of the event before it, with `first` just past it.
  const first = Math.min(wanted, last + 1);
  const { hash } = await walkAnchored(db, {
    from: anchor ? Math.max(1, Math.min(first, last)) : 1,
    to: last,
    anchor,
  });
  const signed = signCheckpoint(key, { seq: last, hash, at: now, first });
  return lines(db, first, last, JSON.stringify(signed));
}

async function* lines(
  db: Kysely<Database>,
  first: number,
  last: number,
  checkpoint: string,
): AsyncIterable<string> {
  const batch = 1000;
  for (let from = first; from <= last; from += batch) {
    const rows = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">=", from)
      .where("seq", "<=", Math.min(last, from + batch - 1))
      .orderBy("seq")
      .execute();
    for (const row of rows) yield `${JSON.stringify(rowToEvent(row))}\n`;
  }
  yield `${checkpoint}\n`;
}
