import { appendAudit } from "../../audit/log.js";
import { actorLabel, SYSTEM_ACTOR } from "../../domain/roles.js";
import { type OperationResult, type OperationSpec, operationResultSchema } from "../../rollout/operation.js";
import type { ServiceContext } from "../../service/context.js";
import { preparedQuery } from "../../store/statement-cache.js";
import { EXECUTOR_INTERFACE_VERSION, type Executor, type OperationOutcome } from "../executor.js";
import { wakeAsset } from "./wakeups.js";

/** A host that has not heartbeated for this many intervals while it holds an operation has lost it. */
export const LOST_AFTER_HEARTBEATS = 2;

function storedResult(text: string | null): OperationResult | null {
  if (text === null) return null;
  const parsed = operationResultSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}

// Run for every operation the engine hands over or looks at on each pass: compiled once.
const dispatchedRow = preparedQuery((db, id: string) =>
  db.selectFrom("operations").select(["id", "state", "asset_id"]).where("id", "=", id),
);
const observedRow = preparedQuery((db, id: string) =>
  db
    .selectFrom("operations as o")
    .leftJoin("assets as a", "a.id", "o.asset_id")
    .select([
      "o.state",
      "o.step",
      "o.result",
      "o.error",
      "o.lease_expires_at",
      "o.leased_at",
      "a.last_seen_at",
    ])
    .where("o.id", "=", id),
);

type ObservedRow = NonNullable<Awaited<ReturnType<typeof observedRow>>["rows"][number]>;

function observedRows(db: ServiceContext["store"]["db"], ids: readonly string[]) {
  return db
    .selectFrom("operations as o")
    .leftJoin("assets as a", "a.id", "o.asset_id")
    .select([
      "o.id",
      "o.state",
      "o.step",
      "o.result",
      "o.error",
      "o.lease_expires_at",
      "o.leased_at",
      "a.last_seen_at",
    ])
    .where("o.id", "in", ids)
    .execute();
}

/** What the stored row says became of the operation (none: it is not stored yet, pending). */
function outcomeOf(ctx: ServiceContext, row: Omit<ObservedRow, "id"> | undefined): OperationOutcome {
  if (!row) return { status: "pending" };
  switch (row.state) {
    case "queued":
      return { status: "pending" };
    case "leased": {
      const now = ctx.now();
      const silentFor = LOST_AFTER_HEARTBEATS * ctx.config.heartbeatIntervalMs;
      // The last sign of life: the asset's heartbeat, or the lease itself when it came later.
      const lastSeen = [row.last_seen_at, row.leased_at]
        .filter((t): t is string => t !== null)
        .sort()
        .at(-1);
      if (lastSeen === undefined || now.getTime() - new Date(lastSeen).getTime() > silentFor) {
        return {
          status: "lost",
          error: `the agent has not heartbeated for ${LOST_AFTER_HEARTBEATS} heartbeat intervals (${silentFor} ms) while it held the operation`,
        };
      }
      if (row.lease_expires_at !== null && row.lease_expires_at <= now.toISOString()) {
        return { status: "lost", error: `the lease expired at ${row.lease_expires_at} without a result` };
      }
      return { status: "running", step: row.step };
    }
    case "succeeded": {
      const result = storedResult(row.result);
      return result === null
        ? { status: "failed", result: null, error: "the stored result cannot be read" }
        : { status: "succeeded", result };
    }
    case "failed": {
      const result = storedResult(row.result);
      return { status: "failed", result, error: row.error ?? result?.error ?? "failed" };
    }
    case "lost":
      return { status: "lost", error: row.error ?? "lost" };
    default:
      return {
        status: "failed",
        result: null,
        error: `the operation was ${row.state} before a host took it`,
      };
  }
}

/**
 * The pull executor: the engine stores the operation (state `queued`) before it dispatches, and the
 * asset's own agent leases it over its long-poll, reports its steps and its result to the server
 * (src/server/routes/agent-operations.ts). So dispatch only wakes that agent's poll, observe reads the
 * stored row, and cancel withdraws an operation no agent has leased.
 */
export const agentExecutor: Executor = {
  kind: "agent",
  interfaceVersion: EXECUTOR_INTERFACE_VERSION,

  async dispatch(ctx: ServiceContext, op: OperationSpec): Promise<void> {
    const [row] = (await dispatchedRow(ctx.store.db, op.id)).rows;
    // Intent first: an operation reaches a host only from its stored row, never from memory.
    if (!row)
      throw new Error(`operation ${op.id} (${op.key}) is not stored: the engine stores it before dispatch`);
    if (row.state === "queued") wakeAsset(ctx.store, row.asset_id);
  },

  async observe(ctx: ServiceContext, op: OperationSpec): Promise<OperationOutcome> {
    const [row] = (await observedRow(ctx.store.db, op.id)).rows;
    return outcomeOf(ctx, row);
  },

  async observeAll(ctx: ServiceContext, ops: readonly OperationSpec[]): Promise<OperationOutcome[]> {
    const rows = new Map<string, ObservedRow>();
    for (let i = 0; i < ops.length; i += 500) {
      const read = await observedRows(
        ctx.store.db,
        ops.slice(i, i + 500).map((o) => o.id),
      );
      for (const r of read) rows.set(r.id, r);
    }
    return ops.map((op) => outcomeOf(ctx, rows.get(op.id)));
  },

  async cancel(ctx: ServiceContext, op: OperationSpec): Promise<void> {
    await ctx.store.write(async (trx) => {
      const now = ctx.now();
      const at = now.toISOString();
      const updated = await trx
        .updateTable("operations")
        .set({
          state: "cancelled",
          error: "withdrawn before a host took it",
          finished_at: at,
          updated_at: at,
        })
        .where("id", "=", op.id)
        .where("state", "=", "queued")
        .executeTakeFirst();
      // Leased (a host has it: it runs to its end) or finished: nothing to withdraw.
      if (Number(updated.numUpdatedRows) !== 1) return;
      await appendAudit(
        trx,
        {
          actor: actorLabel(SYSTEM_ACTOR),
          action: "rollout.operation.cancelled",
          targetType: "rollout",
          targetId: op.rolloutId,
          data: { operation: op.id, key: op.key, asset: op.assetName, assetId: op.assetId },
        },
        now,
      );
    });
  },
};
