import type { Kysely, Selectable } from "kysely";
import type { AuditEventsTable, Database } from "../store/schema.js";
import { type AuditEvent, hashEvent } from "./event.js";

/** The first event where the chain breaks, and why. `id` is null when the event itself is missing. */
export interface ChainBreak {
  seq: number;
  id: string | null;
  reason: string;
}

export interface WalkOptions {
  /** The first event to read. */
  from: number;
  /** The hash the first event must link to; null takes its stored previous-hash as given. */
  prevHash: string | null;
  /** The last event to read (default: to the end). */
  to?: number;
  /** Called with each event that checked out, in chain order. */
  onEvent?: (event: AuditEvent) => void;
  batch?: number;
}

export interface WalkResult {
  checked: number;
  /** The last event that checked out: `from - 1` and `prevHash` when none did. */
  last: { seq: number; hash: string | null };
  broken?: ChainBreak;
}

/**
 * Reads events in order from `from`, recomputing every hash and link, and stops at the first one that
 * is missing, edited, relinked or unreadable, naming it.
 */
export async function walkChain(db: Kysely<Database>, options: WalkOptions): Promise<WalkResult> {
  const batch = options.batch ?? 5000;
  let expectedSeq = options.from;
  let prevHash = options.prevHash;
  let checked = 0;
  const result = (broken?: ChainBreak): WalkResult => ({
    checked,
    last: { seq: expectedSeq - 1, hash: prevHash },
    ...(broken ? { broken } : {}),
  });
  for (;;) {
    const rows = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">=", expectedSeq)
      .$if(options.to !== undefined, (q) => q.where("seq", "<=", options.to ?? 0))
      .orderBy("seq")
      .limit(batch)
      .execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) {
        return result({ seq, id: row.id, reason: `event ${expectedSeq} is missing (next stored is ${seq})` });
      }
      const decoded = decodeRow(row);
      if (typeof decoded === "string") return result({ seq, id: row.id, reason: decoded });
      if (prevHash !== null && decoded.prevHash !== prevHash) {
        return result({ seq, id: row.id, reason: "previous-hash does not match the event before it" });
      }
      const { hash, ...rest } = decoded;
      if (hashEvent(rest) !== hash) {
        return result({ seq, id: row.id, reason: "content does not match its hash (the event was edited)" });
      }
      options.onEvent?.(decoded);
      prevHash = hash;
      expectedSeq += 1;
      checked += 1;
    }
    if (rows.length < batch) return result();
  }
}

/** The event of a row, or why the row cannot be one (its data is not a JSON object). */
export function decodeRow(row: Selectable<AuditEventsTable>): AuditEvent | string {
  let data: unknown;
  try {
    data = JSON.parse(row.data);
  } catch {
    return "its data is not JSON (the stored event was damaged)";
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return "its data is not a JSON object (the stored event was damaged)";
  }
  return {
    seq: Number(row.seq),
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    reason: row.reason,
    data: data as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
