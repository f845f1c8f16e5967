/**
 * Standing in for the rollout engine where a test needs an operation in the store: a rollout, its
 * asset row and a queued operation, inserted as the engine inserts them (intent first), and the
 * OperationSpec an executor gets. The engine's own tests cover how it decides these.
 */
import type { OperationAction } from "../../src/rollout/model.js";
import { operationKey } from "../../src/rollout/model.js";
import { type OperationPayload, type OperationSpec, operationIdFor } from "../../src/rollout/operation.js";
import type { ServiceContext } from "../../src/service/context.js";

export interface QueueInput {
  changeId: string;
  asset: { id: string; name: string };
  action?: OperationAction;
  attempt?: number;
  payload?: Partial<OperationPayload>;
  /** The rollout's state when it is created here (default running). */
  rolloutState?: string;
}

export const rolloutIdOf = (changeId: string) => `ro-${changeId}`;

/** Inserts the rollout (once), the asset's row (once, in the state the engine gives it) and the operation. */
export async function queueOperation(ctx: ServiceContext, input: QueueInput): Promise<OperationSpec> {
  const action = input.action ?? "patch";
  const attempt = input.attempt ?? 1;
  const rolloutId = rolloutIdOf(input.changeId);
  const key = operationKey(input.changeId, input.asset.id, action, attempt);
  const id = operationIdFor(key);
  const payload: OperationPayload = {
    package: "fleet-service",
    toVersion: "1.1.0-1",
    rollbackArtifacts: [],
    snapshotProvider: "dpkg",
    snapshotRequired: true,
    healthChecks: [],
    ...input.payload,
  };
  const at = ctx.now().toISOString();
  await ctx.store.write(async (trx) => {
    await trx
      .insertInto("rollouts")
      .values({
        id: rolloutId,
        change_id: input.changeId,
        state: input.rolloutState ?? "running",
        state_reason: null,
        plan: "{}",
        current_phase: 0,
        paused_by: null,
        gate_failed_at: null,
        failed_gate: null,
        rollback_scope: null,
        time_to_rollback_ms: null,
        // Held by the test, so that the real engine of the server under test leaves it alone.
        lease_owner: "test-stand-in",
        lease_expires_at: "9999-12-31T00:00:00.000Z",
        revision: 1,
        created_at: at,
        started_at: at,
        finished_at: null,
        updated_at: at,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    await trx
      .insertInto("rollout_assets")
      .values({
        rollout_id: rolloutId,
        asset_id: input.asset.id,
        asset_name: input.asset.name,
        phase_idx: 0,
        seq: 0,
        group_name: "web",
        region: "local",
        state: action === "revert" ? "reverting" : action === "patch" ? "snapshotting" : "done",
        state_reason: null,
        from_version: "1.0.0-1",
        to_version: payload.toVersion ?? "1.1.0-1",
        attempt,
        snapshot: null,
        started_at: null,
        unavailable_since: at,
        finished_at: null,
        updated_at: at,
      })
      .onConflict((oc) => oc.columns(["rollout_id", "asset_id"]).doNothing())
      .execute();
    await trx
      .insertInto("operations")
      .values({
        id,
        idempotency_key: key,
        rollout_id: rolloutId,
        asset_id: input.asset.id,
        executor: "agent",
        action,
        attempt,
        state: "queued",
        step: null,
        payload: JSON.stringify(payload),
        result: null,
        error: null,
        lease_expires_at: null,
        created_at: at,
        leased_at: null,
        finished_at: null,
        updated_at: at,
      })
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .execute();
  });
  return {
    id,
    key,
    rolloutId,
    changeId: input.changeId,
    assetId: input.asset.id,
    assetName: input.asset.name,
    action,
    attempt,
    payload,
  };
}
