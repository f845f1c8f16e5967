/** Reading and writing change rows inside a transaction: the lock, the transition write and its audit event. */
import { randomBytes } from "node:crypto";
import type { Kysely, Selectable, Updateable } from "kysely";
import { appendAudit } from "../audit/log.js";
import { NotFoundError } from "../domain/errors.js";
import { type Actor, actorLabel } from "../domain/roles.js";
import { forUpdate } from "../store/locks.js";
import type { ApprovalsTable, ChangeRequestsTable, Database } from "../store/schema.js";
import { type ChangeAction, type ChangeState, isChangeState, transition } from "./lifecycle.js";

export type ChangeRow = Selectable<ChangeRequestsTable>;
export type ApprovalRow = Selectable<ApprovalsTable>;

/** `chg-` and 8 hex digits: short enough to type, random enough for any one store. */
export function newChangeId(): string {
  return `chg-${randomBytes(4).toString("hex")}`;
}

/**
 * The change row, locked for the rest of the transaction on PostgreSQL (SQLite has one writer), so
 * two approvals at once cannot both see one approval missing and both schedule.
 */
export async function lockChange(trx: Kysely<Database>, id: string): Promise<ChangeRow> {
  const row = await trx
    .selectFrom("change_requests")
    .selectAll()
    .where("id", "=", id)
    .$call(forUpdate(trx))
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no change ${id}`);
  return row;
}

export function stateOf(row: ChangeRow): ChangeState {
  if (!isChangeState(row.state)) throw new Error(`change ${row.id} has an unknown state "${row.state}"`);
  return row.state;
}

export async function approvalsOf(db: Kysely<Database>, changeId: string): Promise<ApprovalRow[]> {
  return db
    .selectFrom("approvals")
    .selectAll()
    .where("change_id", "=", changeId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

export interface TransitionWrite {
  actor: Actor;
  action: ChangeAction;
  reason?: string | null;
  now: Date;
  /** More columns to set with the state. */
  set?: Updateable<ChangeRequestsTable>;
  /** More facts for the audit event. */
  data?: Record<string, unknown>;
}

/**
 * Moves a locked change to the state `action` leads to (ConflictError naming the current state when
 * it is illegal) and appends the audit event in the same transaction. Returns the updated row.
 */
export async function writeTransition(
  trx: Kysely<Database>,
  row: ChangeRow,
  write: TransitionWrite,
): Promise<ChangeRow> {
  const from = stateOf(row);
  const to = transition(row.id, from, write.action);
  const at = write.now.toISOString();
  const reason = write.reason ?? null;
  const set = { ...write.set, state: to, state_reason: reason, updated_at: at };
  await trx.updateTable("change_requests").set(set).where("id", "=", row.id).execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(write.actor),
      action: `change.${to}`,
      targetType: "change",
      targetId: row.id,
      reason,
      data: { from, to, ...write.data },
    },
    write.now,
  );
  return { ...row, ...set } as ChangeRow;
}

/** An audited change that is not a transition (an approval given, a review, a reschedule). */
export async function writeEvent(
  trx: Kysely<Database>,
  row: ChangeRow,
  event: {
    actor: Actor;
    action: string;
    reason?: string | null;
    now: Date;
    set?: Updateable<ChangeRequestsTable>;
    data?: Record<string, unknown>;
  },
): Promise<ChangeRow> {
  const set = { ...event.set, updated_at: event.now.toISOString() };
  await trx.updateTable("change_requests").set(set).where("id", "=", row.id).execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(event.actor),
      action: `change.${event.action}`,
      targetType: "change",
      targetId: row.id,
      reason: event.reason ?? null,
      data: { state: row.state, ...event.data },
    },
    event.now,
  );
  return { ...row, ...set } as ChangeRow;
}

/** The policy version a change pinned. */
export function pinOf(row: ChangeRow): { name: string; version: number; hash: string } {
  return { name: row.policy_name, version: Number(row.policy_version), hash: row.policy_hash };
}
