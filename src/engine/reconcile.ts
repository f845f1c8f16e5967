/**
 * One reconcile pass over every rollout that is not finished. Per rollout: take its lease, read its
 * whole stored state, observe its open operations through their executors, evaluate the gates of its
 * current phase (and the one before), decide, persist the decision in one write, and only then hand
 * new operations to their executors. Level-triggered: nothing is carried from one pass to the next but
 * the store, so the process may die at any instant and the next pass (here or on another replica)
 * carries on; the one thing kept in memory (which operations this process handed over already) only
 * saves repeating a dispatch, which executors must accept anyway.
 *
 * It sits above src/rollout (the engine's state, its pure decision and its writes), src/executors and
 * src/gates (plugins built on src/rollout's types): it is where the plugins meet the engine.
 */
import "../gates/index.js";
import { executorFor } from "../executors/registry.js";
import { evaluateGate } from "../gates/registry.js";
import type { Policy } from "../policy/schema.js";
import { loadPinnedPolicy } from "../policy/store.js";
import { persistActions } from "../rollout/apply.js";
import { calendarDecision } from "../rollout/calendar-decision.js";
import { absorbed } from "../rollout/decide.js";
import type { GateResult } from "../rollout/gate-input.js";
import { gateInput } from "../rollout/gate-input.js";
import { leaseTtlMs, takeLease } from "../rollout/leases.js";
import { type LoadedRollout, loadRollout } from "../rollout/load-view.js";
import { TERMINAL_ROLLOUT_STATES } from "../rollout/model.js";
import type { OperationOutcome } from "../rollout/operation.js";
import { type GateResultsByPhase, gatesOfPhase, type RolloutView } from "../rollout/view.js";
import type { ServiceContext } from "../service/context.js";

export interface EngineOptions {
  /** The executor kind new operations go to (default `agent`). */
  executor?: string;
  /** Stops the pass between rollouts. */
  signal?: AbortSignal;
  /** Called after a decision is persisted and before its operations are dispatched (crash tests). */
  afterPersist?: (rolloutId: string) => Promise<void>;
  /** Called after the operations of a decision were dispatched (crash tests). */
  afterDispatch?: (rolloutId: string) => Promise<void>;
}

export interface ReconcileReport {
  /** Rollouts this replica held the lease of and reconciled. */
  reconciled: string[];
  /** Decisions persisted. */
  persisted: number;
  dispatched: number;
  errors: Array<{ rollout: string; error: string }>;
}

// Which operations this process handed to their executors; a context of its own starts afresh.
const HANDED_OVER = new WeakMap<ServiceContext, Set<string>>();
// More than a few rounds in one pass only happen when every step settles at once; the rest waits a pass.
const MAX_ROUNDS = 4;

// When this process began reconciling: hosts could not reach a server that was down, so their silence
// counts against them only once it has been listening for two heartbeat intervals itself. Until then a
// lost operation is still running and a failing gate waits (a gate can pass, never fail, meanwhile).
const LISTENING_SINCE = new WeakMap<ServiceContext, number>();
const LOST_GRACE_HEARTBEATS = 2;

function listeningFor(ctx: ServiceContext, now: Date): number {
  const since = LISTENING_SINCE.get(ctx) ?? now.getTime();
  if (!LISTENING_SINCE.has(ctx)) LISTENING_SINCE.set(ctx, since);
  return now.getTime() - since;
}

// Pinned policy versions parsed by this process, by name, version and hash.
const POLICIES = new WeakMap<ServiceContext, Map<string, Policy>>();

function parsedPolicies(ctx: ServiceContext): Map<string, Policy> {
  let map = POLICIES.get(ctx);
  if (!map) {
    map = new Map();
    POLICIES.set(ctx, map);
  }
  return map;
}

function handedOver(ctx: ServiceContext): Set<string> {
  let set = HANDED_OVER.get(ctx);
  if (!set) {
    set = new Set();
    HANDED_OVER.set(ctx, set);
  }
  return set;
}

/** Reconciles every rollout that is not finished once. Errors of one rollout do not stop the others. */
export async function reconcileOnce(
  ctx: ServiceContext,
  replicaId: string,
  options: EngineOptions = {},
): Promise<ReconcileReport> {
  const report: ReconcileReport = { reconciled: [], persisted: 0, dispatched: 0, errors: [] };
  const rows = await ctx.store.db
    .selectFrom("rollouts")
    .select("id")
    .where("state", "not in", [...TERMINAL_ROLLOUT_STATES])
    .orderBy("created_at")
    .execute();
  const policies = parsedPolicies(ctx);
  for (const { id } of rows) {
    if (options.signal?.aborted) break;
    try {
      if (!(await takeLease(ctx, id, replicaId))) continue;
      report.reconciled.push(id);
      await reconcileRollout(ctx, id, replicaId, options, policies, report);
    } catch (err) {
      ctx.logger.error({ err, rollout: id }, "rollout reconcile failed");
      report.errors.push({ rollout: id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return report;
}

async function reconcileRollout(
  ctx: ServiceContext,
  rolloutId: string,
  replicaId: string,
  options: EngineOptions,
  policies: Map<string, Policy>,
  report: ReconcileReport,
): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const now = ctx.now();
    const loaded = await loadRollout(ctx.store.db, rolloutId, now, ctx.config.heartbeatIntervalMs);
    if (loaded === null || TERMINAL_ROLLOUT_STATES.includes(loaded.view.rollout.state)) return;
    const settled = listeningFor(ctx, now) >= LOST_GRACE_HEARTBEATS * ctx.config.heartbeatIntervalMs;
    await observe(ctx, loaded, settled);
    const { plan } = loaded.view;
    // A pinned version never changes (its hash is in the plan): parsed once per process, not per pass.
    const key = `${plan.policy.name}@${plan.policy.version}#${plan.policy.hash}`;
    const policy = policies.get(key) ?? (await loadPinnedPolicy(ctx.store.db, plan.policy));
    policies.set(key, policy);
    const calendar = calendarDecision(policy, now, {
      emergency: plan.emergency,
      ...(loaded.change.justification === null ? {} : { justification: loaded.change.justification }),
      ...(loaded.change.overrideApprover === null ? {} : { approver: loaded.change.overrideApprover }),
    });
    // One working copy for both: the gates read it, then the decision goes on from it.
    const state = absorbed(loaded.view, now);
    const evaluated = await evaluateGates(ctx, state.view, now);
    const gates = settled ? evaluated : holdFailures(evaluated);
    const actions = state.decide(gates, calendar);
    // Re-dispatch what this process has not handed over itself (a crash between persist and dispatch).
    await redispatch(ctx, loaded, report);
    if (actions.length === 0) return;
    const outcome = await persistActions(ctx, {
      loaded,
      actions,
      replicaId,
      now,
      policy,
      executor: options.executor ?? "agent",
      leaseTtlMs: leaseTtlMs(ctx),
    });
    if (!outcome.applied) {
      ctx.logger.debug({ rollout: rolloutId, why: outcome.why }, "decision not applied: the state moved");
      return;
    }
    report.persisted += 1;
    await options.afterPersist?.(rolloutId);
    const handed = handedOver(ctx);
    for (const { spec, executor } of outcome.dispatch) {
      try {
        await executorFor(executor).dispatch(ctx, spec);
        handed.add(spec.id);
        report.dispatched += 1;
      } catch (err) {
        // The operation is stored: the next pass hands it over again.
        ctx.logger.warn({ err, operation: spec.id }, "dispatch failed");
      }
    }
    for (const { spec, executor } of outcome.withdraw) {
      try {
        await executorFor(executor).cancel(ctx, spec);
      } catch (err) {
        ctx.logger.warn({ err, operation: spec.id }, "withdrawing an operation failed");
      }
    }
    await options.afterDispatch?.(rolloutId);
    // Another round only when the decision moved a phase or the rollout: its next step may be due now.
    if (!actions.some((a) => a.type === "phase.transition" || a.type === "rollout.transition")) return;
  }
}

/** Asks each open operation's executor what became of it. An executor that fails to answer: still running. */
async function observe(ctx: ServiceContext, loaded: LoadedRollout, settled: boolean): Promise<void> {
  const set = (op: LoadedRollout["open"][number]["op"], observed: OperationOutcome) => {
    op.outcome = observed.status === "lost" && !settled ? { status: "running", step: op.step } : observed;
  };
  const byExecutor = new Map<string, LoadedRollout["open"]>();
  for (const open of loaded.open)
    byExecutor.set(open.executor, [...(byExecutor.get(open.executor) ?? []), open]);
  await Promise.all(
    [...byExecutor].map(async ([kind, opens]) => {
      let executor: ReturnType<typeof executorFor>;
      try {
        executor = executorFor(kind);
      } catch (err) {
        ctx.logger.warn({ err, executor: kind }, "observing operations failed");
        for (const o of opens) set(o.op, { status: "running", step: o.op.step });
        return;
      }
      // One read for all of an executor's open operations where it offers that, else one each.
      if (executor.observeAll) {
        const observeAll = executor.observeAll.bind(executor);
        try {
          const outcomes = await observeAll(
            ctx,
            opens.map((o) => o.spec),
          );
          for (const [i, o] of opens.entries())
            set(o.op, outcomes[i] ?? { status: "running", step: o.op.step });
        } catch (err) {
          ctx.logger.warn({ err, executor: kind }, "observing operations failed");
          for (const o of opens) set(o.op, { status: "running", step: o.op.step });
        }
        return;
      }
      await Promise.all(
        opens.map(async ({ op, spec }) => {
          let outcome: OperationOutcome;
          try {
            outcome = await executor.observe(ctx, spec);
          } catch (err) {
            ctx.logger.warn({ err, operation: op.id }, "observing an operation failed");
            outcome = { status: "running", step: op.step };
          }
          set(op, outcome);
        }),
      );
    }),
  );
}

/** Turns failing verdicts into waits: a host's silence may be this server's own downtime. */
function holdFailures(gates: GateResultsByPhase): GateResultsByPhase {
  const held = new Map<number, GateResult[]>();
  for (const [idx, results] of gates) {
    held.set(
      idx,
      results.map((r) =>
        r.status === "fail"
          ? { ...r, status: "wait", reason: `${r.reason} (held: the engine restarted moments ago)` }
          : r,
      ),
    );
  }
  return held;
}

async function redispatch(
  ctx: ServiceContext,
  loaded: LoadedRollout,
  report: ReconcileReport,
): Promise<void> {
  const handed = handedOver(ctx);
  for (const { op, spec, executor } of loaded.open) {
    if (op.state !== "queued" || op.outcome.status !== "pending" || handed.has(op.id)) continue;
    try {
      await executorFor(executor).dispatch(ctx, spec);
      handed.add(op.id);
      report.dispatched += 1;
    } catch (err) {
      ctx.logger.warn({ err, operation: op.id }, "dispatch failed");
    }
  }
}

/** The verdicts of the gates of the current phase and of the one before it (the next may wait on it). */
async function evaluateGates(ctx: ServiceContext, view: RolloutView, now: Date): Promise<GateResultsByPhase> {
  const out = new Map<number, GateResult[]>();
  const current = view.rollout.currentPhase;
  for (const idx of [current - 1, current]) {
    if (!view.phases.some((p) => p.idx === idx)) continue;
    const input = gateInput(view, idx, now);
    const results: GateResult[] = [];
    for (const gate of gatesOfPhase(view.plan, idx)) {
      try {
        results.push(await evaluateGate(gate, input));
      } catch (err) {
        // A gate that cannot answer holds the phase; the progress deadline bounds how long.
        ctx.logger.warn({ err, gate: gate.kind }, "gate evaluation failed");
        results.push({
          kind: gate.kind,
          status: "wait",
          reason: `cannot be evaluated: ${err instanceof Error ? err.message : String(err)}`,
          evaluatedAt: now.toISOString(),
        });
      }
    }
    out.set(idx, results);
  }
  return out;
}
