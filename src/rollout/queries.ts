/**
 * Read views of rollouts: one rollout with its phases, assets and gate results (`rollout show`, the
 * `--json` interface scripts rely on), and the list. Reads only; times are ISO 8601 as stored.
 */
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import { reasonError } from "../domain/errors.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, RolloutAssetsTable, RolloutPhasesTable, RolloutsTable } from "../store/schema.js";
import {
  ASSET_STATES,
  type AssetState,
  isAssetState,
  isRolloutState,
  PHASE_STATES,
  type PhaseState,
  ROLLOUT_STATES,
  type RolloutState,
  STOP_ALL_SWITCH,
} from "./model.js";

const assetCountsSchema = z.object(
  Object.fromEntries(ASSET_STATES.map((s) => [s, z.number().int()])) as {
    [K in AssetState]: z.ZodNumber;
  },
);

export type AssetCounts = Record<AssetState, number>;

/** A gate's latest verdict as the engine stored it (the shape of src/gates' GateResult). */
const storedGateResultSchema = z.object({
  kind: z.string(),
  status: z.enum(["pass", "fail", "wait"]),
  reason: z.string(),
  until: z.string().optional(),
  evaluatedAt: z.string(),
});

const rolloutPhaseViewSchema = z.object({
  idx: z.number().int(),
  name: z.string(),
  /** canary | wave | final (the final verification after the last phase). */
  kind: z.string(),
  ring: z.string().nullable(),
  state: z.enum(PHASE_STATES),
  /** Names of the assets the phase patches (for the final verification: those it verifies again). */
  assets: z.array(z.string()),
  startedAt: z.string().nullable(),
  observeUntil: z.string().nullable(),
  finishedAt: z.string().nullable(),
  promotedBy: z.string().nullable(),
  /** The latest verdict of each of the phase's gates. */
  gates: z.array(storedGateResultSchema),
});

const rolloutAssetViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.enum(ASSET_STATES),
  reason: z.string().nullable(),
  fromVersion: z.string().nullable(),
  toVersion: z.string(),
  startedAt: z.string().nullable().meta({ description: "When its install began" }),
  finishedAt: z.string().nullable().meta({ description: "When it was verified or reverted" }),
  /** Out of service since (null while in service). */
  unavailableSince: z.string().nullable(),
  /** The name of the phase it belongs to. */
  phase: z.string(),
  group: z.string(),
  region: z.string(),
  attempt: z.number().int(),
});

export const stopAllViewSchema = z.object({
  reason: z.string().nullable(),
  setBy: z.string(),
  setAt: z.string(),
});

/** What `rollout show --json` prints: the interface scripts rely on, and its one schema. */
export const rolloutViewSchema = z
  .object({
    id: z.string(),
    changeId: z.string(),
    state: z.enum(ROLLOUT_STATES),
    stateReason: z.string().nullable(),
    /** The principal who paused it; null when not paused or paused by the engine. */
    pausedBy: z.string().nullable(),
    /** The name of the phase in progress; null once every phase passed. */
    currentPhase: z.string().nullable(),
    phases: z.array(rolloutPhaseViewSchema),
    assets: z.array(rolloutAssetViewSchema),
    counts: assetCountsSchema,
    failedGate: z.unknown(),
    gateFailedAt: z.string().nullable(),
    rollbackScope: z.string().nullable(),
    timeToRollbackMs: z.number().nullable(),
    incidentId: z.string().nullable(),
    /** The engine-wide emergency stop, when set: every rollout waits for `rollout resume-all`. */
    stopAll: stopAllViewSchema.nullable(),
    revision: z.number().int(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: "Rollout" });

/** A rollout as listed. */
export const rolloutSummarySchema = z
  .object({
    id: z.string(),
    changeId: z.string(),
    state: z.enum(ROLLOUT_STATES),
    stateReason: z.string().nullable(),
    currentPhase: z.string().nullable(),
    assets: z.number().int(),
    counts: assetCountsSchema,
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    updatedAt: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: "RolloutSummary" });

export type StoredGateResult = z.infer<typeof storedGateResultSchema>;
export type RolloutPhaseView = z.infer<typeof rolloutPhaseViewSchema>;
export type RolloutAssetView = z.infer<typeof rolloutAssetViewSchema>;
export type StopAllView = z.infer<typeof stopAllViewSchema>;
export type RolloutView = z.infer<typeof rolloutViewSchema>;
export type RolloutSummary = z.infer<typeof rolloutSummarySchema>;

export interface RolloutFilter {
  state?: string | undefined;
  change?: string | undefined;
  limit?: number | undefined;
}

function rolloutState(row: Pick<Selectable<RolloutsTable>, "id" | "state">): RolloutState {
  if (!isRolloutState(row.state)) throw new Error(`rollout ${row.id} has an unknown state "${row.state}"`);
  return row.state;
}

function phaseState(value: string): PhaseState {
  if (!(PHASE_STATES as readonly string[]).includes(value)) throw new Error(`unknown phase state "${value}"`);
  return value as PhaseState;
}

function assetState(value: string): AssetState {
  if (!isAssetState(value)) throw new Error(`unknown asset state "${value}"`);
  return value;
}

function parsed<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function emptyCounts(): AssetCounts {
  return Object.fromEntries(ASSET_STATES.map((s) => [s, 0])) as AssetCounts;
}

function countsOf(states: readonly string[]): AssetCounts {
  const counts = emptyCounts();
  for (const s of states) if (isAssetState(s)) counts[s] += 1;
  return counts;
}

/** A rollout by its id, or by the id of the change it executes. */
async function findRollout(db: Kysely<Database>, idOrChange: string): Promise<Selectable<RolloutsTable>> {
  const row = await db
    .selectFrom("rollouts")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrChange), eb("change_id", "=", idOrChange)]))
    .executeTakeFirst();
  if (!row) throw reasonError("rollout.not-found", `no rollout ${idOrChange}`, { where: "/id" });
  return row;
}

export async function stopAllOf(db: Kysely<Database>): Promise<StopAllView | null> {
  const row = await db
    .selectFrom("engine_switches")
    .select(["reason", "set_by", "set_at"])
    .where("name", "=", STOP_ALL_SWITCH)
    .executeTakeFirst();
  return row ? { reason: row.reason, setBy: row.set_by, setAt: row.set_at } : null;
}

function phaseViews(
  phases: readonly Selectable<RolloutPhasesTable>[],
  assets: readonly Selectable<RolloutAssetsTable>[],
  verified: ReadonlySet<string>,
): RolloutPhaseView[] {
  return phases.map((p) => {
    const idx = Number(p.idx);
    const members =
      p.kind === "final"
        ? assets.filter((a) => a.state === "done" || verified.has(a.asset_id))
        : assets.filter((a) => Number(a.phase_idx) === idx);
    return {
      idx,
      name: p.name,
      kind: p.kind,
      ring: p.ring,
      state: phaseState(p.state),
      assets: members.map((a) => a.asset_name),
      startedAt: p.started_at,
      observeUntil: p.observe_until,
      finishedAt: p.finished_at,
      promotedBy: p.promoted_by,
      gates: parsed<StoredGateResult[]>(p.gate_results, []),
    };
  });
}

/** One rollout, by its id or its change's id (NotFoundError reason `rollout.not-found`). */
export async function showRollout(ctx: ServiceContext, id: string): Promise<RolloutView> {
  const db = ctx.store.db;
  const row = await findRollout(db, id);
  const [phases, assets, verifies, incident, stopAll] = await Promise.all([
    db.selectFrom("rollout_phases").selectAll().where("rollout_id", "=", row.id).orderBy("idx").execute(),
    db.selectFrom("rollout_assets").selectAll().where("rollout_id", "=", row.id).orderBy("seq").execute(),
    db
      .selectFrom("operations")
      .select("asset_id")
      .where("rollout_id", "=", row.id)
      .where("action", "=", "verify")
      .execute(),
    db.selectFrom("incidents").select("id").where("rollout_id", "=", row.id).executeTakeFirst(),
    stopAllOf(db),
  ]);
  const phaseList = phaseViews(phases, assets, new Set(verifies.map((v) => v.asset_id)));
  const names = new Map(phaseList.map((p) => [p.idx, p.name]));
  const current = phaseList.find((p) => p.idx === Number(row.current_phase));
  return {
    id: row.id,
    changeId: row.change_id,
    state: rolloutState(row),
    stateReason: row.state_reason,
    pausedBy: row.paused_by,
    currentPhase: current?.name ?? null,
    phases: phaseList,
    assets: assets.map((a) => ({
      id: a.asset_id,
      name: a.asset_name,
      state: assetState(a.state),
      reason: a.state_reason,
      fromVersion: a.from_version,
      toVersion: a.to_version,
      startedAt: a.started_at,
      finishedAt: a.finished_at,
      unavailableSince: a.unavailable_since,
      phase: names.get(Number(a.phase_idx)) ?? String(a.phase_idx),
      group: a.group_name,
      region: a.region,
      attempt: Number(a.attempt),
    })),
    counts: countsOf(assets.map((a) => a.state)),
    failedGate: parsed<unknown>(row.failed_gate, null),
    gateFailedAt: row.gate_failed_at,
    rollbackScope: row.rollback_scope,
    timeToRollbackMs: row.time_to_rollback_ms === null ? null : Number(row.time_to_rollback_ms),
    incidentId: incident?.id ?? null,
    stopAll,
    revision: Number(row.revision),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

/** Rollouts, newest first; `state` must be a rollout state (ValidationError reason `rollout.invalid-filter`). */
export async function listRollouts(
  ctx: ServiceContext,
  filter: RolloutFilter = {},
): Promise<RolloutSummary[]> {
  const db = ctx.store.db;
  if (filter.state !== undefined && !isRolloutState(filter.state)) {
    throw reasonError(
      "rollout.invalid-filter",
      `"${filter.state}" is not a rollout state (one of ${ROLLOUT_STATES.join(", ")})`,
      { where: "/state" },
    );
  }
  let query = db.selectFrom("rollouts").selectAll().orderBy("created_at", "desc").orderBy("id");
  if (filter.state !== undefined) query = query.where("state", "=", filter.state);
  if (filter.change !== undefined) query = query.where("change_id", "=", filter.change);
  const rows = await query.limit(Math.min(Math.max(filter.limit ?? 500, 1), 5000)).execute();
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [states, phases] = await Promise.all([
    db
      .selectFrom("rollout_assets")
      .select(["rollout_id", "state"])
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("rollout_id", "in", ids)
      .groupBy(["rollout_id", "state"])
      .execute(),
    db
      .selectFrom("rollout_phases")
      .select(["rollout_id", "idx", "name"])
      .where("rollout_id", "in", ids)
      .execute(),
  ]);
  return rows.map((r) => {
    const counts = emptyCounts();
    for (const s of states) {
      if (s.rollout_id === r.id && isAssetState(s.state)) counts[s.state] += Number(s.n);
    }
    const phase = phases.find((p) => p.rollout_id === r.id && Number(p.idx) === Number(r.current_phase));
    return {
      id: r.id,
      changeId: r.change_id,
      state: rolloutState(r),
      stateReason: r.state_reason,
      currentPhase: phase?.name ?? null,
      assets: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      updatedAt: r.updated_at,
      createdAt: r.created_at,
    };
  });
}
