import { randomUUID } from "node:crypto";
import { CompiledQuery, type Kysely, type Selectable } from "kysely";
import { reasonError } from "../domain/errors.js";
import { capabilitiesOf } from "../store/capabilities.js";
import { forUpdate } from "../store/locks.js";
import { GENESIS_HASH } from "../store/migrations/0001-initial.js";
import type { AuditEventsTable, Database } from "../store/schema.js";
import { preparedQuery } from "../store/statement-cache.js";
import { canonicalJson, sha256Hex } from "./canonical-json.js";
import { type ChainBreak, decodeRow, type WalkOptions, walkChain } from "./chain.js";
import { type AuditEvent, type AuditInput, hashedText } from "./event.js";

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
  if (capabilitiesOf(trx).writableCte) return appendInOneStatement(trx, input, now);
  const [event] = await appendAudits(trx, [input], now);
  if (event === undefined) throw new Error("the audit append returned no event");
  return event;
}

/**
 * Appends several events of one state change in the order given, with the chain appendAudit would
 * build one by one. Where appenders are serialised by the single writer, the head is read once, the
 * events are inserted and the head is updated once; elsewhere each event takes the
 * one-statement append, which holds the head's lock for as short a time as one event allows.
 */
export async function appendAudits(
  trx: Kysely<Database>,
  inputs: readonly AuditInput[],
  now = new Date(),
): Promise<AuditEvent[]> {
  if (!trx.isTransaction) throw new Error("appendAudits must run inside the state change's transaction");
  if (inputs.length === 0) return [];
  if (capabilitiesOf(trx).writableCte) {
    const appended: AuditEvent[] = [];
    for (const input of inputs) appended.push(await appendInOneStatement(trx, input, now));
    return appended;
  }
  const [head] = (await auditHead(trx)).rows;
  if (head === undefined) throw new Error("the audit chain has no head row");
  const events: AuditEvent[] = [];
  let seq = Number(head.seq);
  let prevHash = head.hash;
  const dataTexts: string[] = [];
  for (const input of inputs) {
    const unhashed = { ...eventFields(input, now), seq: seq + 1, prevHash };
    // The payload's canonical text is both hashed and stored: written once.
    const dataText = canonicalJson(unhashed.data);
    const event: AuditEvent = { ...unhashed, hash: sha256Hex(hashedText(unhashed, dataText)) };
    events.push(event);
    dataTexts.push(dataText);
    seq = event.seq;
    prevHash = event.hash;
  }
  // One prepared single-row insert per event: on SQLite running a prepared statement again costs less
  // than building and compiling a multi-row insert for each write.
  for (const [i, e] of events.entries()) {
    await insertEvent(
      trx,
      e.seq,
      e.id,
      e.at,
      e.actor,
      e.action,
      e.targetType,
      e.targetId,
      e.reason,
      dataTexts[i] as string,
      e.prevHash,
      e.hash,
    );
  }
  await updateHead(trx, seq, prevHash);
  return events;
}

// Every audited write runs these: compiled once (see preparedQuery).
const auditHead = preparedQuery((db) =>
  db.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1).$call(forUpdate(db)),
);
const updateHead = preparedQuery((db, seq: number, hash: string) =>
  db.updateTable("audit_head").set({ seq, hash }).where("id", "=", 1),
);
const insertEvent = preparedQuery(
  (
    db,
    seq: number,
    id: string,
    at: string,
    actor: string,
    action: string,
    targetType: string,
    targetId: string,
    reason: string | null,
    data: string,
    prevHash: string,
    hash: string,
  ) =>
    db.insertInto("audit_events").values({
      seq,
      id,
      at,
      actor,
      action,
      target_type: targetType,
      target_id: targetId,
      reason,
      data,
      prev_hash: prevHash,
      hash,
    }),
);

/**
 * The same append as one statement, for a database where appenders run concurrently: the head is
 * locked from the moment it is read until the commit, so every round trip between reading it and
 * committing is one that all other appenders wait for.
 */
async function appendInOneStatement(
  trx: Kysely<Database>,
  input: AuditInput,
  now: Date,
): Promise<AuditEvent> {
  const params: unknown[] = [];
  const append = auditAppendCtes(input, now, (value) => {
    params.push(value);
    return `$${params.length}`;
  });
  const result = await trx.executeQuery<{ seq: number; prev_hash: string; hash: string }>(
    CompiledQuery.raw(
      `with ${append.ctes.join(", ")} select audit_seq as seq, audit_prev_hash as prev_hash, audit_hash as hash from audit_e`,
      params,
    ),
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error("the audit chain has no head row");
  return { ...append.fields, seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash };
}

/**
 * The one-statement append as WITH clauses, for a statement that does more: `audit_h` locks and reads
 * the head, `audit_e` inserts the event (its columns `audit_seq`, `audit_prev_hash`, `audit_hash`),
 * `audit_u` moves the head. `param` binds a value and returns its placeholder. The event's hash is
 * computed by the database from the canonical text built here, with the head's seq and hash spliced in
 * (both are plain digits and hex, which canonical JSON writes as they are), so the chain is the one
 * hashEvent computes. Only where writes run inside WITH (capabilities.writableCte).
 */
export function auditAppendCtes(
  input: AuditInput,
  now: Date,
  param: (value: unknown) => string,
): { ctes: string[]; fields: Omit<AuditEvent, "seq" | "prevHash" | "hash"> } {
  const marker = randomUUID();
  const seqMark = `"${marker}:seq"`;
  const prevMark = `${marker}:prev`;
  const fields = eventFields(input, now);
  // hashEvent's own text with markers for the head's seq (a string where the number goes, so its
  // quotes are part of the marker) and hash; canonical JSON puts prevHash before seq, and each marker
  // is a fresh UUID, so it appears once.
  const dataText = canonicalJson(fields.data);
  const text = hashedText(
    { ...fields, seq: `${marker}:seq` as unknown as number, prevHash: prevMark },
    dataText,
  );
  const [before, rest] = splitOnce(text, prevMark);
  const [middle, after] = splitOnce(rest, seqMark);
  const values = [
    fields.id,
    fields.at,
    fields.actor,
    fields.action,
    fields.targetType,
    fields.targetId,
    fields.reason,
    dataText,
  ].map(param);
  const [b, m, a] = [before, middle, after].map(param);
  return {
    fields,
    ctes: [
      "audit_h as (select seq + 1 as seq, hash from audit_head where id = 1 for update)",
      `audit_e as (insert into audit_events (seq, id, at, actor, action, target_type, target_id, reason, data, prev_hash, hash)
        select audit_h.seq, ${values.join(", ")}, audit_h.hash,
          encode(sha256(convert_to(${b} || audit_h.hash || ${m} || audit_h.seq || ${a}, 'UTF8')), 'hex') from audit_h
        returning seq as audit_seq, prev_hash as audit_prev_hash, hash as audit_hash)`,
      "audit_u as (update audit_head set seq = audit_e.audit_seq, hash = audit_e.audit_hash from audit_e where audit_head.id = 1)",
    ],
  };
}

function splitOnce(text: string, marker: string): [string, string] {
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0) throw new Error("audit event text has no single marker");
  return [text.slice(0, at), text.slice(at + marker.length)];
}

/** An event's fields but its place in the chain (seq, prevHash) and its hash. */
function eventFields(input: AuditInput, now: Date): Omit<AuditEvent, "seq" | "prevHash" | "hash"> {
  return {
    id: randomUUID(),
    at: now.toISOString(),
    actor: input.actor,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    reason: input.reason ?? null,
    data: input.data ?? {},
  };
}

/** The event of a stored row; a row whose data is unreadable is a damaged chain, named by its event. */
export function rowToEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  const decoded = decodeRow(row);
  if (typeof decoded === "string") {
    throw reasonError("audit.chain-broken", `audit event ${row.seq} (${row.id}): ${decoded}`, {
      where: `audit_events/seq/${row.seq}`,
    });
  }
  return decoded;
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

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** The first event where the chain breaks, and why. */
  broken?: ChainBreak;
  /** The stored head; null when its row is missing. */
  head: { seq: number; hash: string } | null;
}

/** Walks the whole chain in order, recomputing every hash; names the first broken event. */
export async function verifyAuditChain(
  db: Kysely<Database>,
  options: Pick<WalkOptions, "batch" | "onEvent"> = {},
): Promise<VerifyResult> {
  const head =
    (await db.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1).executeTakeFirst()) ??
    null;
  const walk = await walkChain(db, { ...options, from: 1, prevHash: GENESIS_HASH });
  const fail = (broken: ChainBreak): VerifyResult => ({ ok: false, checked: walk.checked, broken, head });
  if (walk.broken) return fail(walk.broken);
  if (head === null) {
    return fail({
      seq: walk.last.seq,
      id: null,
      reason: `the chain's head row is missing (the chain ends at event ${walk.last.seq})`,
    });
  }
  const normalised = { seq: Number(head.seq), hash: head.hash };
  if (normalised.seq !== walk.last.seq || normalised.hash !== walk.last.hash) {
    return {
      ...fail({
        seq: walk.last.seq + 1,
        id: null,
        reason:
          normalised.seq > walk.last.seq
            ? `the chain ends at ${walk.last.seq} but its head says ${normalised.seq}: events were removed from the end`
            : `the head (event ${normalised.seq}, ${normalised.hash}) is not the chain's last event ${walk.last.seq}`,
      }),
      head: normalised,
    };
  }
  return { ok: true, checked: walk.checked, head: normalised };
}
