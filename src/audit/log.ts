import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { NotFoundError } from "../domain/errors.js";
import { forUpdate } from "../store/locks.js";
import { GENESIS_HASH } from "../store/migrations/0001-initial.js";
import type { AuditEventsTable, Database } from "../store/schema.js";
import { type AuditEvent, type AuditInput, hashEvent } from "./event.js";

/**
 * Appends one event to the hash chain inside the caller's transaction, so a state change and its
 * event commit or roll back together (invariant 4). Taking the head row with FOR UPDATE (PostgreSQL)
 * or under SQLite's single writer serialises appenders, so the chain never forks.
 */
export async function appendAudit(
  trx: Kysely<Database>,
  input: AuditInput,
  now = new Date(),
): Promise<AuditEvent> {
  if (!trx.isTransaction) throw new Error("appendAudit must run inside the state change's transaction");
  const head = await trx
    .selectFrom("audit_head")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .$call(forUpdate(trx))
    .executeTakeFirstOrThrow();
  const unhashed = {
    seq: head.seq + 1,
    id: randomUUID(),
    at: now.toISOString(),
    actor: input.actor,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    reason: input.reason ?? null,
    data: input.data ?? {},
    prevHash: head.hash,
  };
  const event: AuditEvent = { ...unhashed, hash: hashEvent(unhashed) };
  await trx
    .insertInto("audit_events")
    .values({
      seq: event.seq,
      id: event.id,
      at: event.at,
      actor: event.actor,
      action: event.action,
      target_type: event.targetType,
      target_id: event.targetId,
      reason: event.reason,
      data: JSON.stringify(event.data),
      prev_hash: event.prevHash,
      hash: event.hash,
    })
    .execute();
  await trx.updateTable("audit_head").set({ seq: event.seq, hash: event.hash }).where("id", "=", 1).execute();
  return event;
}

export function rowToEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    seq: Number(row.seq),
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    reason: row.reason,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditQuery {
  /** Events with seq greater than this (for paging). */
  after?: number;
  limit?: number;
  targetType?: string;
  targetId?: string;
  action?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `after` for the next page; null on the last page. */
  next: number | null;
}

export async function listAudit(db: Kysely<Database>, query: AuditQuery = {}): Promise<AuditPage> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  const rows = await db
    .selectFrom("audit_events")
    .selectAll()
    .where("seq", ">", query.after ?? 0)
    .$if(query.targetType !== undefined, (q) => q.where("target_type", "=", query.targetType ?? ""))
    .$if(query.targetId !== undefined, (q) => q.where("target_id", "=", query.targetId ?? ""))
    .$if(query.action !== undefined, (q) => q.where("action", "=", query.action ?? ""))
    .orderBy("seq")
    .limit(limit + 1)
    .execute();
  const events = rows.slice(0, limit).map(rowToEvent);
  return { events, next: rows.length > limit ? (events.at(-1)?.seq ?? null) : null };
}

export async function getAuditEvent(db: Kysely<Database>, id: string): Promise<AuditEvent> {
  const row = await db.selectFrom("audit_events").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new NotFoundError(`no audit event ${id}`);
  return rowToEvent(row);
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** The first event where the chain breaks, and why. */
  broken?: { seq: number; id: string | null; reason: string };
  head: { seq: number; hash: string };
}

/** Walks the whole chain in order, recomputing every hash; names the first broken event. */
export async function verifyAuditChain(db: Kysely<Database>, batch = 5000): Promise<VerifyResult> {
  const head = await db
    .selectFrom("audit_head")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .executeTakeFirstOrThrow();
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  for (;;) {
    const rows = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">=", expectedSeq)
      .orderBy("seq")
      .limit(batch)
      .execute();
    for (const row of rows) {
      const event = rowToEvent(row);
      const fail = (reason: string): VerifyResult => ({
        ok: false,
        checked,
        broken: { seq: event.seq, id: event.id, reason },
        head,
      });
      if (event.seq !== expectedSeq)
        return fail(`event ${expectedSeq} is missing (next stored is ${event.seq})`);
      if (event.prevHash !== prevHash) return fail("previous-hash does not match the event before it");
      const { hash, ...rest } = event;
      if (hashEvent(rest) !== hash) return fail("content does not match its hash (the event was edited)");
      prevHash = hash;
      expectedSeq += 1;
      checked += 1;
    }
    if (rows.length < batch) break;
  }
  if (head.seq !== checked || head.hash !== prevHash) {
    return {
      ok: false,
      checked,
      broken: {
        seq: checked + 1,
        id: null,
        reason: `the chain ends at ${checked} but its head says ${head.seq}: events were removed from the end`,
      },
      head,
    };
  }
  return { ok: true, checked, head };
}
