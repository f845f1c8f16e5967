import { randomBytes } from "node:crypto";
import type { Insertable, Updateable } from "kysely";
import type {
  AssetState,
  OperationAction,
  OperationState,
  PhaseState,
  RolloutState,
} from "../../src/rollout/model.js";
import { operationKey, rolloutIdFor } from "../../src/rollout/model.js";
import { operationIdFor } from "../../src/rollout/operation.js";
import type {
  ChangeRequestsTable,
  RolloutAssetsTable,
  RolloutPhasesTable,
  RolloutsTable,
} from "../../src/store/schema.js";
import type { Store } from "../../src/store/store.js";

/**
 * Rollouts written as rows, as the engine would have left them at some instant: for the controls and
 * views, which only read and write stored state. A rollout is held under a lease of `holder` unless
 * told otherwise, so a running engine loop leaves it to the test.
 */
export interface RolloutRowsInput {
  state?: RolloutState;
  stateReason?: string | null;
  pausedBy?: string | null;
  rollbackScope?: "phase" | "change" | null;
  currentPhase?: number;
  changeState?: string;
  phases?: Array<{ name: string; kind?: string; state?: PhaseState; observeUntil?: string | null }>;
  assets?: Array<{
    name: string;
    phase: number;
    state?: AssetState;
    attempt?: number;
    fromVersion?: string;
    toVersion?: string;
    startedAt?: string | null;
    finishedAt?: string | null;
  }>;
  lease?: { owner: string; expiresAt: string } | null;
}

export interface RolloutRows {
  changeId: string;
  rolloutId: string;
}

export const TEST_LEASE_HOLDER = "test-holder";

export async function insertRollout(store: Store, input: RolloutRowsInput = {}): Promise<RolloutRows> {
  const changeId = `chg-${randomBytes(4).toString("hex")}`;
  const rolloutId = rolloutIdFor(changeId);
  const at = new Date().toISOString();
  const phases = input.phases ?? [
    { name: "canary", kind: "canary", state: "running" as PhaseState },
    { name: "wave-1", kind: "wave", state: "pending" as PhaseState },
  ];
  const assets = input.assets ?? [
    { name: "web-1", phase: 0, state: "pending" as AssetState },
    { name: "web-2", phase: 1 },
    { name: "web-3", phase: 1 },
  ];
  const lease =
    input.lease === undefined
      ? { owner: TEST_LEASE_HOLDER, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }
      : input.lease;
  const change: Insertable<ChangeRequestsTable> = {
    id: changeId,
    title: "openssl 3.0.15-1",
    package_name: "openssl",
    package_version: "3.0.15-1",
    artifact_name: null,
    artifact_sha256: null,
    source: null,
    advisories: "[]",
    ticket: null,
    selector: "",
    class: "routine",
    emergency: 0,
    policy_name: "default",
    policy_version: 1,
    policy_hash: "0".repeat(64),
    justification: "test",
    risk_notes: null,
    rollback_notes: null,
    requester: "user:ops",
    requester_name: "ops",
    requester_principal: "ops",
    state: input.changeState ?? (input.state === "paused" ? "paused" : "running"),
    state_reason: null,
    approval_rule: null,
    plan: null,
    scheduled_start: null,
    override_approver: null,
    review_state: "none",
    review_due_at: null,
    reviewed_by: null,
    reviewed_at: null,
    review_reason: null,
    starting_soon_for: null,
    rollout_id: rolloutId,
    created_at: at,
    updated_at: at,
  };
  const rollout: Insertable<RolloutsTable> = {
    id: rolloutId,
    change_id: changeId,
    state: input.state ?? "running",
    state_reason: input.stateReason ?? "started",
    plan: JSON.stringify({ version: 2 }),
    current_phase: input.currentPhase ?? 0,
    paused_by: input.pausedBy ?? null,
    gate_failed_at: null,
    failed_gate: null,
    rollback_scope: input.rollbackScope ?? null,
    time_to_rollback_ms: null,
    lease_owner: lease?.owner ?? null,
    lease_expires_at: lease?.expiresAt ?? null,
    revision: 1,
    created_at: at,
    started_at: at,
    finished_at: null,
    updated_at: at,
  };
  const phaseRows: Array<Insertable<RolloutPhasesTable>> = phases.map((p, idx) => ({
    rollout_id: rolloutId,
    idx,
    name: p.name,
    kind: p.kind ?? (idx === 0 ? "canary" : "wave"),
    ring: null,
    state: p.state ?? "pending",
    started_at: p.state === undefined || p.state === "pending" ? null : at,
    observe_until: p.observeUntil ?? null,
    finished_at: null,
    promoted_by: null,
    gate_results: "[]",
  }));
  const assetRows: Array<Insertable<RolloutAssetsTable>> = assets.map((a, seq) => ({
    rollout_id: rolloutId,
    asset_id: `id-${a.name}`,
    asset_name: a.name,
    phase_idx: a.phase,
    seq,
    group_name: "web",
    region: "eu",
    state: a.state ?? "pending",
    state_reason: null,
    from_version: a.fromVersion ?? "3.0.11-1",
    to_version: a.toVersion ?? "3.0.15-1",
    attempt: a.attempt ?? 1,
    snapshot: null,
    started_at: a.startedAt ?? null,
    unavailable_since: null,
    finished_at: a.finishedAt ?? null,
    updated_at: at,
  }));
  await store.write(async (trx) => {
    await trx.insertInto("change_requests").values(change).execute();
    await trx.insertInto("rollouts").values(rollout).execute();
    if (phaseRows.length > 0) await trx.insertInto("rollout_phases").values(phaseRows).execute();
    if (assetRows.length > 0) await trx.insertInto("rollout_assets").values(assetRows).execute();
  });
  return { changeId, rolloutId };
}

/** An operation row of the asset's attempt, in the state given; returns its id. */
export async function insertOperation(
  store: Store,
  rows: RolloutRows,
  assetName: string,
  options: { action?: OperationAction; state?: OperationState; attempt?: number } = {},
): Promise<string> {
  const action = options.action ?? "patch";
  const attempt = options.attempt ?? 1;
  const key = operationKey(rows.changeId, `id-${assetName}`, action, attempt);
  const id = operationIdFor(key);
  const at = new Date().toISOString();
  await store.write(async (trx) => {
    await trx
      .insertInto("operations")
      .values({
        id,
        idempotency_key: key,
        rollout_id: rows.rolloutId,
        asset_id: `id-${assetName}`,
        executor: "agent",
        action,
        attempt,
        state: options.state ?? "queued",
        step: null,
        payload: JSON.stringify({ package: "openssl" }),
        result: null,
        error: null,
        lease_expires_at: null,
        created_at: at,
        leased_at: null,
        finished_at: null,
        updated_at: at,
      })
      .execute();
  });
  return id;
}

/** Moves stored state on as the engine would (a test stands in for it). */
export async function updateRolloutRow(
  store: Store,
  rolloutId: string,
  set: Updateable<RolloutsTable>,
): Promise<void> {
  await store.write(async (trx) => {
    const row = await trx
      .selectFrom("rollouts")
      .select("revision")
      .where("id", "=", rolloutId)
      .executeTakeFirstOrThrow();
    await trx
      .updateTable("rollouts")
      .set({ ...set, revision: Number(row.revision) + 1, updated_at: new Date().toISOString() })
      .where("id", "=", rolloutId)
      .execute();
  });
}

export async function updateAssetRow(
  store: Store,
  rolloutId: string,
  assetName: string,
  set: Updateable<RolloutAssetsTable>,
): Promise<void> {
  await store.write(async (trx) => {
    await trx
      .updateTable("rollout_assets")
      .set({ ...set, updated_at: new Date().toISOString() })
      .where("rollout_id", "=", rolloutId)
      .where("asset_name", "=", assetName)
      .execute();
  });
}

export async function updatePhaseRow(
  store: Store,
  rolloutId: string,
  idx: number,
  set: Updateable<RolloutPhasesTable>,
): Promise<void> {
  await store.write(async (trx) => {
    await trx
      .updateTable("rollout_phases")
      .set(set)
      .where("rollout_id", "=", rolloutId)
      .where("idx", "=", idx)
      .execute();
  });
}
