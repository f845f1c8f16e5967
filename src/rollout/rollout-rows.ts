/**
 * A rollout's asset and operation rows as the engine reads them on every pass. Reading all of them
 * (500 assets, as many operations and more) on each of a large rollout's many passes was the largest
 * part of a pass, though a pass changes a few dozen. So the rows read are kept, and a later pass reads
 * only those written since the one before (by their `updated_at`, with an overlap for writes that
 * committed late), plus the assets whose agents fell silent. Every writer of these rows sets
 * `updated_at`; writes that may not (operator controls, the emergency stop) bump the rollout's
 * revision, and a revision this process's engine did not write means a full read. A full read also
 * happens on the first pass of a process, after the lease changes hands, when the clock went back,
 * and every FULL_READ_EVERY_MS as a safety net. What is kept only saves reads: the engine's writes
 * still check every state they rely on, so a row read late makes a decision wait, never unsafe.
 */
import type { Kysely, Selectable } from "kysely";
import type { Database, OperationsTable, RolloutAssetsTable } from "../store/schema.js";
import { preparedQuery } from "../store/statement-cache.js";

export type AssetRow = Selectable<RolloutAssetsTable>;
export type OperationRow = Pick<
  Selectable<OperationsTable>,
  | "id"
  | "idempotency_key"
  | "asset_id"
  | "executor"
  | "action"
  | "attempt"
  | "state"
  | "step"
  | "error"
  | "created_at"
  | "updated_at"
>;

export interface RolloutRows {
  /** In seq order. */
  assetRows: AssetRow[];
  opRows: OperationRow[];
  /**
   * The assets whose agent has not heartbeated within two intervals (every other asset has), and
   * whether each is still in the inventory.
   */
  silent: Map<string, { present: boolean }>;
  /** True when every row was read afresh. */
  full: boolean;
}

/**
 * A full read at least this often, whatever the delta reads found: a safety net, as every writer of
 * these rows sets `updated_at` or bumps the revision. Kept short because max unavailable is counted
 * from the rows the engine has read; one full read of a 500-asset rollout costs tens of ms.
 */
export const FULL_READ_EVERY_MS = 5000;
/**
 * Rows written this long before the previous read are read again: a write takes its time before it
 * commits (inside its transaction, and a group commit or a lock may hold it a moment).
 */
export const DELTA_OVERLAP_MS = 2000;

interface Kept {
  revision: number;
  assets: AssetRow[];
  assetIndex: Map<string, number>;
  ops: Map<string, OperationRow>;
  /** The (service clock's) time of the last read. */
  readAt: number;
  /** Wall time of the last full read. */
  fullAt: number;
}

const KEPT = new WeakMap<Kysely<Database>, Map<string, Kept>>();
/** The revisions this process's engine wrote, by store and rollout: its own writes set `updated_at`. */
const OWN_REVISIONS = new WeakMap<Kysely<Database>, Map<string, number>>();

function byStore<V>(map: WeakMap<Kysely<Database>, Map<string, V>>, db: Kysely<Database>): Map<string, V> {
  let inner = map.get(db);
  if (!inner) {
    inner = new Map();
    map.set(db, inner);
  }
  return inner;
}

/** The engine of this process committed `revision` of the rollout (apply.ts). */
export function noteEngineRevision(db: Kysely<Database>, rolloutId: string, revision: number): void {
  byStore(OWN_REVISIONS, db).set(rolloutId, revision);
}

/** Drops what is kept of the rollout: its next read is a full one (a new lease holder, a finished rollout). */
export function forgetRolloutRows(db: Kysely<Database>, rolloutId: string): void {
  byStore(KEPT, db).delete(rolloutId);
  byStore(OWN_REVISIONS, db).delete(rolloutId);
}

const OP_COLUMNS = [
  "id",
  "idempotency_key",
  "asset_id",
  "executor",
  "action",
  "attempt",
  "state",
  "step",
  "error",
  "created_at",
  "updated_at",
] as const;

// Run on every pass: compiled once (see preparedQuery).
const allAssets = preparedQuery((db, rolloutId: string) =>
  // With each asset's last sign of life (null when the asset is gone), in the same read.
  db
    .selectFrom("rollout_assets as ra")
    .leftJoin("assets as a", "a.id", "ra.asset_id")
    .selectAll("ra")
    .select(["a.id as live_id", "a.last_seen_at"])
    .where("ra.rollout_id", "=", rolloutId)
    .orderBy("ra.seq"),
);
const allOperations = preparedQuery((db, rolloutId: string) =>
  db.selectFrom("operations").select(OP_COLUMNS).where("rollout_id", "=", rolloutId),
);
const assetsSince = preparedQuery((db, rolloutId: string, since: string) =>
  db
    .selectFrom("rollout_assets")
    .selectAll()
    .where("rollout_id", "=", rolloutId)
    .where("updated_at", ">=", since),
);
const operationsSince = preparedQuery((db, rolloutId: string, since: string) =>
  db
    .selectFrom("operations")
    .select(OP_COLUMNS)
    .where("rollout_id", "=", rolloutId)
    .where("updated_at", ">=", since),
);
// Only the silent ones: on a healthy fleet none, where reading every asset's heartbeat read them all.
const silentAssets = preparedQuery((db, rolloutId: string, heartbeatSince: string) =>
  db
    .selectFrom("rollout_assets as ra")
    .leftJoin("assets as a", "a.id", "ra.asset_id")
    .select(["ra.asset_id", "a.id as live_id"])
    .where("ra.rollout_id", "=", rolloutId)
    .where((eb) => eb.or([eb("a.last_seen_at", "is", null), eb("a.last_seen_at", "<", heartbeatSince)])),
);

/** The rollout's rows at `revision` (the rollout row just read), fully or by what changed since the last read. */
export async function readRows(
  db: Kysely<Database>,
  rolloutId: string,
  revision: number,
  now: Date,
  heartbeatIntervalMs: number,
): Promise<RolloutRows> {
  const kept = byStore(KEPT, db);
  const before = kept.get(rolloutId);
  const at = now.getTime();
  const heartbeatSince = new Date(at - 2 * heartbeatIntervalMs).toISOString();
  const usable =
    before !== undefined &&
    (before.revision === revision || byStore(OWN_REVISIONS, db).get(rolloutId) === revision) &&
    at >= before.readAt &&
    Date.now() - before.fullAt < FULL_READ_EVERY_MS;
  if (usable) {
    const delta = await readDelta(db, rolloutId, before, heartbeatSince);
    if (delta !== null) {
      before.revision = revision;
      before.readAt = at;
      return delta;
    }
  }
  const rows = await readAll(db, rolloutId, heartbeatSince);
  kept.set(rolloutId, {
    revision,
    assets: rows.assetRows,
    assetIndex: new Map(rows.assetRows.map((a, i) => [a.asset_id, i])),
    ops: new Map(rows.opRows.map((o) => [o.id, o])),
    readAt: at,
    fullAt: Date.now(),
  });
  return rows;
}

async function readAll(
  db: Kysely<Database>,
  rolloutId: string,
  heartbeatSince: string,
): Promise<RolloutRows> {
  const [{ rows: assets }, { rows: opRows }] = await Promise.all([
    allAssets(db, rolloutId),
    allOperations(db, rolloutId),
  ]);
  const silent = new Map<string, { present: boolean }>();
  const assetRows: AssetRow[] = [];
  for (const { live_id, last_seen_at, ...row } of assets) {
    assetRows.push(row);
    if (last_seen_at === null || last_seen_at < heartbeatSince)
      silent.set(row.asset_id, { present: live_id !== null });
  }
  return { assetRows, opRows, silent, full: true };
}

/** The kept rows with those written since the last read; null when they do not fit (a full read then). */
async function readDelta(
  db: Kysely<Database>,
  rolloutId: string,
  kept: Kept,
  heartbeatSince: string,
): Promise<RolloutRows | null> {
  const since = new Date(kept.readAt - DELTA_OVERLAP_MS).toISOString();
  const [{ rows: assets }, { rows: ops }, { rows: silentRows }] = await Promise.all([
    assetsSince(db, rolloutId, since),
    operationsSince(db, rolloutId, since),
    silentAssets(db, rolloutId, heartbeatSince),
  ]);
  for (const a of assets) {
    const idx = kept.assetIndex.get(a.asset_id);
    // An asset the rollout did not have when read: never expected, so read everything again.
    if (idx === undefined) return null;
    // A row read again as it was (the overlap) keeps its object: what was built from it is kept too.
    if (!sameRow(kept.assets[idx], a)) kept.assets[idx] = a;
  }
  for (const o of ops) if (!sameRow(kept.ops.get(o.id), o)) kept.ops.set(o.id, o);
  const silent = new Map(silentRows.map((r) => [r.asset_id, { present: r.live_id !== null }]));
  return { assetRows: kept.assets, opRows: [...kept.ops.values()], silent, full: false };
}

/** Whether a row read again holds the same values as the one kept (every column is a plain value). */
function sameRow<T extends object>(before: T | undefined, after: T): boolean {
  if (before === undefined) return false;
  const keys = Object.keys(after) as Array<keyof T>;
  if (keys.length !== Object.keys(before).length) return false;
  return keys.every((k) => before[k] === after[k]);
}
