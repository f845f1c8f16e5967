import type { Kysely } from "kysely";
import { ValidationError } from "../domain/errors.js";
import type { Database } from "../store/schema.js";
import type { OutboxRow } from "./claim.js";
import { safeUrl } from "./safe-url.js";

const OUTBOX_STATES = ["pending", "delivered", "dead"] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** One outbox message as operators see it. The URL is shown without its query string (it may hold a token). */
export interface OutboxMessage {
  id: string;
  idempotencyKey: string;
  state: OutboxState;
  event: string;
  subject: { type: string; id: string };
  target: { name: string; url: string; format: string };
  attempts: number;
  nextAttemptAt: string;
  claimedUntil: string | null;
  deliveredAt: string | null;
  deadAt: string | null;
  lastError: string | null;
  createdAt: string;
  payload: unknown;
}

export interface OutboxQuery {
  state?: OutboxState;
  /** Default 100, at most 1000. */
  limit?: number;
}

/** Messages oldest first, optionally in one state. */
export async function listOutbox(db: Kysely<Database>, query: OutboxQuery = {}): Promise<OutboxMessage[]> {
  if (query.state !== undefined && !(OUTBOX_STATES as readonly string[]).includes(query.state)) {
    throw new ValidationError(`"${query.state}" is not an outbox state (use ${OUTBOX_STATES.join(", ")})`, {
      where: "state",
    });
  }
  const limit = Math.min(Math.max(Math.floor(query.limit ?? 100), 1), 1000);
  const rows = await db
    .selectFrom("outbox")
    .selectAll()
    .$if(query.state === "pending", (q) => q.where("delivered_at", "is", null).where("dead_at", "is", null))
    .$if(query.state === "delivered", (q) => q.where("delivered_at", "is not", null))
    .$if(query.state === "dead", (q) => q.where("dead_at", "is not", null))
    .orderBy("created_at")
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map(rowToMessage);
}

function rowToMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    state: row.delivered_at !== null ? "delivered" : row.dead_at !== null ? "dead" : "pending",
    event: row.event,
    subject: { type: row.subject_type, id: row.subject_id },
    target: { name: row.target_name, url: safeUrl(row.target_url), format: row.format },
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    claimedUntil: row.claimed_until,
    deliveredAt: row.delivered_at,
    deadAt: row.dead_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    payload: JSON.parse(row.payload) as unknown,
  };
}
