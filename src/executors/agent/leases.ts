import type { Kysely, Selectable } from "kysely";
import type { AuditInput } from "../../audit/event.js";
import { appendAudits } from "../../audit/log.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import { STOP_ALL_SWITCH } from "../../rollout/model.js";
import { type LeasedOperation, operationPayloadSchema } from "../../rollout/operation.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database, OperationsTable } from "../../store/schema.js";
import { preparedQuery } from "../../store/statement-cache.js";
import { leaseTtlMs } from "./lease-time.js";
import { ownAssetOf } from "./own-asset.js";
import { signOfLifeInWrite } from "./poll-heartbeat.js";
import { shareStorePoll } from "./store-poll.js";
import { subscribe } from "./wakeups.js";

/** The longest a long-poll waits; agents ask again at once. Below common proxies' idle timeouts. */
export const MAX_WAIT_MS = 30_000;
/** How often the waiting polls look in the store (one query for all): operations another replica queued. */
export const STORE_POLL_MS = 1000;

/**
 * Only operations of rollouts that are moving are handed out: a paused rollout (an operator, a closed
 * window) or an emergency stop holds what is queued but not yet on a host, so nothing starts on a host
 * outside what the engine allows at that instant.
 */
const LEASABLE_ROLLOUT_STATES = ["running", "rolling-back"];

type OpRow = Selectable<OperationsTable>;

// A lease reads the payload twice (its time to live, then the answer): parsed once per row read.
const PAYLOADS = new WeakMap<OpRow, LeasedOperation["payload"]>();

function payloadOf(row: OpRow): LeasedOperation["payload"] {
  let payload = PAYLOADS.get(row);
  if (!payload) {
    payload = operationPayloadSchema.parse(JSON.parse(row.payload));
    PAYLOADS.set(row, payload);
  }
  return payload;
}

function leasedOf(row: OpRow, leaseExpiresAt: string): LeasedOperation {
  return {
    id: row.id,
    key: row.idempotency_key,
    action: row.action as LeasedOperation["action"],
    payload: payloadOf(row),
    leaseExpiresAt,
    inventoryInResult: true,
  };
}

function expiryFor(row: OpRow, now: Date): string {
  return new Date(now.getTime() + leaseTtlMs(payloadOf(row))).toISOString();
}

/**
 * An operation this asset holds already: its agent asks again after a restart (or never got the
 * answer), so it gets the same operation back with its lease renewed. The agent's journal makes a
 * second delivery harmless: a finished key answers from the journal, a started one is re-examined.
 */
async function redeliver(
  ctx: ServiceContext,
  actor: Actor,
  assetId: string,
  heldId: string,
): Promise<LeasedOperation | null> {
  const after: { recorded?: (() => void) | null } = {};
  const leased = await ctx.store.write(async (trx) => {
    const [row] = (await operationRow(trx, heldId)).rows;
    if (row?.state !== "leased") return null;
    const now = ctx.now();
    const expires = expiryFor(row, now);
    await renewLease(trx, expires, now.toISOString(), row.id);
    const events = [leaseEvent(actor, row, expires, true)];
    after.recorded = await signOfLifeInWrite(ctx, trx, actor, assetId, now, events);
    await appendAudits(trx, events, now);
    return leasedOf(row, expires);
  });
  after.recorded?.();
  return leased;
}

function leaseEvent(actor: Actor, row: OpRow, expires: string, redelivered: boolean): AuditInput {
  return {
    actor: actorLabel(actor),
    action: "rollout.operation.leased",
    targetType: "rollout",
    targetId: row.rollout_id,
    data: {
      operation: row.id,
      key: row.idempotency_key,
      assetId: row.asset_id,
      action: row.action,
      leaseExpiresAt: expires,
      redelivered,
    },
  };
}

// The queries every long-poll runs, compiled once (see preparedQuery).
/**
 * A poll's first look, one read for both: the asset's leased operations (the oldest lease first) and
 * its queued ones whose rollout is moving (the oldest first), as `pickOpen` takes them.
 */
const openOfAsset = preparedQuery((db, assetId: string) =>
  db
    .selectFrom("operations as o")
    .leftJoin("rollouts as r", "r.id", "o.rollout_id")
    .select(["o.id", "o.state", "o.leased_at", "o.created_at", "r.state as rollout_state"])
    .where("o.asset_id", "=", assetId)
    .where("o.state", "in", ["leased", "queued"]),
);

type OpenRow = Awaited<ReturnType<typeof openOfAsset>>["rows"][number];

const by = (a: string | null, b: string | null) =>
  (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;
const oldest = (list: OpenRow[], at: (r: OpenRow) => string | null) =>
  list.sort((x, y) => by(at(x), at(y)) || by(x.id, y.id))[0]?.id ?? null;

/** The oldest queued operation among these whose rollout is moving (by creation, then id). */
function oldestQueued(rows: readonly OpenRow[]): string | null {
  const queued = rows.filter(
    (r) =>
      r.state === "queued" && r.rollout_state !== null && LEASABLE_ROLLOUT_STATES.includes(r.rollout_state),
  );
  return oldest(queued, (r) => r.created_at);
}

/** The operation the asset holds (as redeliver takes it), else the queued one tryLease would lease. */
function pickOpen(rows: readonly OpenRow[]): { held: string | null; queued: string | null } {
  const held = rows.filter((r) => r.state === "leased");
  if (held.length > 0) return { held: oldest(held, (r) => r.leased_at), queued: null };
  return { held: null, queued: oldestQueued(rows) };
}
const operationRow = preparedQuery((db, id: string) =>
  db.selectFrom("operations").selectAll().where("id", "=", id),
);
const renewLease = preparedQuery((db, expires: string, at: string, id: string) =>
  db
    .updateTable("operations")
    .set({ lease_expires_at: expires, updated_at: at })
    .where("id", "=", id)
    .where("state", "=", "leased"),
);
const takeQueued = preparedQuery((db, at: string, expires: string, id: string) =>
  db
    .updateTable("operations")
    .set({ state: "leased", leased_at: at, lease_expires_at: expires, updated_at: at })
    .where("id", "=", id)
    .where("state", "=", "queued"),
);
const rolloutState = preparedQuery((db, id: string) =>
  db.selectFrom("rollouts").select("state").where("id", "=", id),
);
const stopSwitch = preparedQuery((db) =>
  db.selectFrom("engine_switches").select("name").where("name", "=", STOP_ALL_SWITCH),
);
async function stopped(db: Kysely<Database>): Promise<boolean> {
  return (await stopSwitch(db)).rows.length > 0;
}

/**
 * The oldest queued operation of the asset whose rollout is moving, if any (a read, no lock): the
 * first look's query (one compiled statement for both looks), picked as the first look picks.
 */
async function candidate(db: Kysely<Database>, assetId: string): Promise<string | null> {
  return oldestQueued((await openOfAsset(db, assetId)).rows);
}

/** Which of these assets have a queued operation of a moving rollout: the shared store poll's look. */
async function assetsWithWork(db: Kysely<Database>, assetIds: readonly string[]): Promise<string[]> {
  const rows = await db
    .selectFrom("operations as o")
    .innerJoin("rollouts as r", "r.id", "o.rollout_id")
    .select("o.asset_id")
    .distinct()
    .where("o.state", "=", "queued")
    .where("r.state", "in", LEASABLE_ROLLOUT_STATES)
    .execute();
  const waiting = new Set(assetIds);
  return rows.map((r) => r.asset_id).filter((id) => waiting.has(id));
}

/**
 * Leases the oldest queued operation of the asset (compare-and-set on its state): of two polls of one
 * asset at once, one gets it. Cheap reads first, so idle polls never take the write path.
 */
async function tryLease(
  ctx: ServiceContext,
  actor: Actor,
  assetId: string,
  /** The candidate, when the caller read it just now. */
  known?: string | null,
): Promise<LeasedOperation | null> {
  const id = known === undefined ? await candidate(ctx.store.db, assetId) : known;
  if (id === null || (await stopped(ctx.store.db))) return null;
  const after: { recorded?: (() => void) | null } = {};
  const leased = await ctx.store.write(async (trx) => {
    if (await stopped(trx)) return null;
    const [row] = (await operationRow(trx, id)).rows;
    if (row?.state !== "queued") return null;
    const [rollout] = (await rolloutState(trx, row.rollout_id)).rows;
    if (!rollout || !LEASABLE_ROLLOUT_STATES.includes(rollout.state)) return null;
    const now = ctx.now();
    const at = now.toISOString();
    const expires = expiryFor(row, now);
    const updated = await takeQueued(trx, at, expires, id);
    if (Number(updated.numAffectedRows ?? 0n) !== 1) return null;
    const events = [leaseEvent(actor, row, expires, false)];
    // The poll that leases is the agent's sign of life too: recorded in this write, not one more.
    after.recorded = await signOfLifeInWrite(ctx, trx, actor, assetId, now, events);
    await appendAudits(trx, events, now);
    return leasedOf(row, expires);
  });
  after.recorded?.();
  return leased;
}

/**
 * The long-poll: the operation this asset holds (again), else the oldest queued one it can lease, else
 * waits up to `waitMs` for one (woken in-process by a dispatch, or finding it in the store at each
 * poll interval). Null when nothing came; the signal ends the wait early (client gone, shutdown).
 */
export async function nextOperation(
  ctx: ServiceContext,
  actor: Actor,
  waitMs: number,
  signal?: AbortSignal,
): Promise<LeasedOperation | null> {
  const assetId = ownAssetOf(actor);
  // Wall time, not ctx.now(): the wait is real even when the service runs on a test clock.
  const deadline = Date.now() + Math.min(Math.max(0, waitMs), MAX_WAIT_MS);
  // Subscribed before the first look, so an operation queued after it still wakes this poll.
  const waiter = subscribe(ctx.store, assetId);
  const release = shareStorePoll(ctx.store, STORE_POLL_MS, (assetIds) =>
    assetsWithWork(ctx.store.db, assetIds),
  );
  try {
    const first = pickOpen((await openOfAsset(ctx.store.db, assetId)).rows);
    const held = first.held === null ? null : await redeliver(ctx, actor, assetId, first.held);
    if (held) return held;
    // The first try takes the candidate read above; every later one (after a wake-up) reads it afresh.
    let known: string | null | undefined = first.held === null ? first.queued : undefined;
    for (;;) {
      const leased = await tryLease(ctx, actor, assetId, known);
      known = undefined;
      if (leased) return leased;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) return null;
      // Only a wake-up is worth another look: a wait that ran out ends the poll, and the agent's next
      // poll looks at once (an operation of another replica is found by the store poll meanwhile).
      if (!(await waiter.wait(remaining, signal)) || signal?.aborted) return null;
    }
  } finally {
    release();
    waiter.dispose();
  }
}
