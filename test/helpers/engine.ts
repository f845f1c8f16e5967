/**
 * Driving the rollout engine in tests: a scripted executor standing in for the hosts, a store with
 * assets, a policy and a scheduled change holding a hand-built PlanV2, a manual clock, and the
 * invariant checks run after every pass.
 */
import { expect } from "vitest";
import type { PlanV2 } from "../../src/changes/plan.js";
import { SYSTEM_ACTOR } from "../../src/domain/roles.js";
import { type EngineOptions, reconcileOnce } from "../../src/engine/reconcile.js";
import {
  EXECUTOR_INTERFACE_VERSION,
  type Executor,
  type OperationOutcome,
} from "../../src/executors/executor.js";
import { registerExecutor } from "../../src/executors/registry.js";
import { createAsset } from "../../src/inventory/assets.js";
import { applyPolicy, getPolicy } from "../../src/policy/store.js";
import { TERMINAL_ROLLOUT_STATES, UNAVAILABLE_ASSET_STATES } from "../../src/rollout/model.js";
import type { OperationResult, OperationSpec } from "../../src/rollout/operation.js";
import type { ServiceContext } from "../../src/service/context.js";
import type { Store } from "../../src/store/store.js";
import { buildPlanV2, type PlanSpec } from "./plans.js";
import { contextFor, LOOPBACK_WEBHOOKS } from "./stores.js";

/** What a host does with an operation: finish well, fail its checks, vanish, never finish, or never take it. */
export type Script = "ok" | "fail" | "lose" | "hang" | "untaken" | "bad-version";

interface HostRun {
  spec: OperationSpec;
  observes: number;
  cancelled: boolean;
}

/**
 * The hosts, as the engine sees them through an executor. It outlives any one service context (a
 * "crash" drops the context, not the hosts). Each operation key runs at most once on its host; a
 * repeated dispatch of a key is recorded but changes nothing, as the agent's journal guarantees.
 */
export class ScriptExecutor implements Executor {
  readonly kind = "script";
  readonly interfaceVersion = EXECUTOR_INTERFACE_VERSION;
  /** By asset name and action; an array gives one script per attempt. */
  readonly scripts = new Map<string, Script | Script[]>();
  readonly runs = new Map<string, HostRun>();
  readonly dispatchCalls = new Map<string, number>();
  /** Observations an operation takes to finish (steps on the way). */
  stepsToFinish = 3;

  script(asset: string, action: OperationSpec["action"], script: Script | Script[]): void {
    this.scripts.set(`${asset}/${action}`, script);
  }

  #scriptOf(spec: OperationSpec): Script {
    const s = this.scripts.get(`${spec.assetName}/${spec.action}`) ?? "ok";
    return Array.isArray(s) ? (s[spec.attempt - 1] ?? s.at(-1) ?? "ok") : s;
  }

  async dispatch(_ctx: ServiceContext, op: OperationSpec): Promise<void> {
    this.dispatchCalls.set(op.key, (this.dispatchCalls.get(op.key) ?? 0) + 1);
    if (!this.runs.has(op.key)) this.runs.set(op.key, { spec: op, observes: 0, cancelled: false });
  }

  async observe(_ctx: ServiceContext, op: OperationSpec): Promise<OperationOutcome> {
    const run = this.runs.get(op.key);
    if (!run || run.cancelled) return { status: "pending" };
    const script = this.#scriptOf(op);
    if (script === "untaken") return { status: "pending" };
    run.observes += 1;
    if (script === "hang" || run.observes < this.stepsToFinish) {
      const step = op.action === "revert" ? "reverting" : run.observes <= 1 ? "applying" : "verifying";
      return { status: "running", step };
    }
    if (script === "lose") return { status: "lost", error: "no heartbeat for two intervals" };
    const version =
      script === "bad-version"
        ? "0.0-1"
        : op.action === "revert"
          ? (op.payload.toVersion ?? null)
          : (op.payload.toVersion ?? null);
    const result: OperationResult = {
      ok: script !== "fail",
      installedVersion: version,
      ...(op.action === "patch"
        ? {
            snapshot: {
              provider: "dpkg",
              takenAt: "2026-03-02T10:00:00.000Z",
              packages: [
                {
                  name: op.payload.package,
                  version: "1.0-1",
                  arch: "all",
                  artifactSha256: null,
                  hostPath: "/keep/x.deb",
                },
              ],
            },
          }
        : {}),
      checks: [
        {
          name: "service",
          ok: script !== "fail",
          tries: 1,
          detail: script === "fail" ? "HTTP 500" : "HTTP 200",
          durationMs: 3,
        },
      ],
      replayed: false,
      startedAt: "2026-03-02T10:00:00.000Z",
      finishedAt: "2026-03-02T10:00:01.000Z",
    };
    if (script === "fail")
      return { status: "failed", result, error: "health check service failed: HTTP 500" };
    return { status: "succeeded", result };
  }

  async cancel(ctx: ServiceContext, op: OperationSpec): Promise<void> {
    const run = this.runs.get(op.key);
    // Only an operation no host has taken can be withdrawn.
    if (run && run.observes > 0) return;
    if (run) run.cancelled = true;
    await ctx.store.write(async (trx) => {
      await trx
        .updateTable("operations")
        .set({ state: "cancelled", updated_at: ctx.now().toISOString() })
        .where("id", "=", op.id)
        .where("state", "=", "queued")
        .execute();
    });
  }

  /** How many times each key's effect happened on its host (never more than once). */
  effects(): Map<string, number> {
    return new Map([...this.runs].filter(([, r]) => !r.cancelled && r.observes > 0).map(([k]) => [k, 1]));
  }
}

export const SCRIPT = new ScriptExecutor();
registerExecutor(SCRIPT);

/** A clock the test moves. */
export class Clock {
  constructor(public at: Date) {}
  now = (): Date => new Date(this.at.getTime());
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
  set(iso: string): void {
    this.at = new Date(iso);
  }
}

export interface Fleet {
  ctx: ServiceContext;
  clock: Clock;
  plan: PlanV2;
  changeId: string;
  /** Asset name → id. */
  ids: Map<string, string>;
}

export const BASE_POLICY = `name: engine-test
notifications:
  webhooks:
    - {name: ops-hook, url: "http://127.0.0.1:9/hook"}
`;

/**
 * Assets, a policy and a scheduled change whose frozen plan is built from `spec` (asset names are
 * replaced by the ids the store gave them).
 */
export async function scheduledChange(
  store: Store,
  spec: PlanSpec,
  options: { policy?: string; start?: string; emergency?: boolean } = {},
): Promise<Fleet> {
  const clock = new Clock(new Date(options.start ?? "2026-03-02T10:00:00.000Z"));
  const ctx = contextFor(store, clock.now, LOOPBACK_WEBHOOKS);
  ctx.config.heartbeatIntervalMs = 10_000;
  ctx.config.enginePassMs = 1000;
  const ids = new Map<string, string>();
  for (const t of spec.targets) {
    const asset = await createAsset(ctx, SYSTEM_ACTOR, t.name, {
      environment: "prod",
      group: t.group ?? "web",
      region: t.region ?? "eu",
    });
    ids.set(t.name, asset.id);
  }
  const applied = await applyPolicy(ctx, SYSTEM_ACTOR, options.policy ?? BASE_POLICY);
  const stored = await getPolicy(ctx, applied.name, applied.version);
  const plan = buildPlanV2({
    ...spec,
    targets: spec.targets.map((t) => ({ ...t, id: ids.get(t.name) as string })),
    policy: { name: stored.name, version: stored.version, hash: stored.hash },
    ...(options.emergency === undefined ? {} : { emergency: options.emergency }),
  });
  const changeId = `chg-${Math.random().toString(16).slice(2, 10)}`;
  const at = clock.now().toISOString();
  await store.write(async (trx) => {
    await trx
      .insertInto("change_requests")
      .values({
        id: changeId,
        title: `${plan.patch.package} ${plan.patch.version}`,
        package_name: plan.patch.package,
        package_version: plan.patch.version,
        artifact_name: null,
        artifact_sha256: null,
        source: null,
        advisories: "[]",
        ticket: null,
        selector: "",
        class: options.emergency ? "emergency" : "routine",
        emergency: options.emergency ? 1 : 0,
        policy_name: stored.name,
        policy_version: stored.version,
        policy_hash: stored.hash,
        justification: "tests",
        risk_notes: null,
        rollback_notes: null,
        requester: "user:ops",
        requester_name: "ops",
        requester_principal: "ops",
        state: "scheduled",
        state_reason: null,
        approval_rule: null,
        plan: JSON.stringify(plan),
        scheduled_start: at,
        override_approver: options.emergency ? "cab" : null,
        review_state: "none",
        review_due_at: null,
        reviewed_by: null,
        reviewed_at: null,
        review_reason: null,
        starting_soon_for: null,
        rollout_id: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
  });
  return { ctx, clock, plan, changeId, ids };
}

/** Every asset heartbeats now, except the ones named. */
export async function heartbeat(ctx: ServiceContext, except: readonly string[] = []): Promise<void> {
  await ctx.store.write(async (trx) => {
    let q = trx.updateTable("assets").set({ last_seen_at: ctx.now().toISOString() });
    if (except.length > 0) q = q.where("name", "not in", except);
    await q.execute();
  });
}

export async function rolloutRow(ctx: ServiceContext, changeId: string) {
  return ctx.store.db
    .selectFrom("rollouts")
    .selectAll()
    .where("change_id", "=", changeId)
    .executeTakeFirstOrThrow();
}

export async function assetRows(ctx: ServiceContext, rolloutId: string) {
  return ctx.store.db
    .selectFrom("rollout_assets")
    .selectAll()
    .where("rollout_id", "=", rolloutId)
    .orderBy("seq")
    .execute();
}

/** Invariants 1 and 2 on the stored state: within max unavailable; no phase ahead of an unfinished one. */
export async function checkInvariants(ctx: ServiceContext, plan: PlanV2, rolloutId: string): Promise<void> {
  const assets = await assetRows(ctx, rolloutId);
  const group = new Map<string, number>();
  const region = new Map<string, number>();
  for (const a of assets) {
    if (!(UNAVAILABLE_ASSET_STATES as readonly string[]).includes(a.state)) continue;
    group.set(a.group_name, (group.get(a.group_name) ?? 0) + 1);
    region.set(a.region, (region.get(a.region) ?? 0) + 1);
  }
  for (const [g, n] of group) expect(n, `group ${g}`).toBeLessThanOrEqual(plan.maxUnavailable.group[g] ?? 1);
  for (const [r, n] of region)
    expect(n, `region ${r}`).toBeLessThanOrEqual(plan.maxUnavailable.region[r] ?? 1);
  const phases = await ctx.store.db
    .selectFrom("rollout_phases")
    .select(["idx", "state"])
    .where("rollout_id", "=", rolloutId)
    .orderBy("idx")
    .execute();
  phases.forEach((p, i) => {
    if (p.state === "pending") return;
    for (const earlier of phases.slice(0, i))
      expect(["passed", "skipped"], `phase ${p.idx} is ${p.state}`).toContain(earlier.state);
  });
}

/** Invariant 1 from the recorded intervals: replaying the audit events, never over the limits. */
export async function checkRecordedIntervals(
  ctx: ServiceContext,
  plan: PlanV2,
  rolloutId: string,
): Promise<number> {
  const events = await ctx.store.db
    .selectFrom("audit_events")
    .select(["action", "data"])
    .where("target_type", "=", "rollout")
    .where("target_id", "=", rolloutId)
    .where("action", "like", "rollout.asset.%")
    .orderBy("seq")
    .execute();
  const state = new Map<string, { group: string; region: string; state: string }>();
  let most = 0;
  for (const e of events) {
    const d = JSON.parse(e.data) as { assetId: string; group: string; region: string; to: string };
    state.set(d.assetId, { group: d.group, region: d.region, state: d.to });
    const out = [...state.values()].filter((s) =>
      (UNAVAILABLE_ASSET_STATES as readonly string[]).includes(s.state),
    );
    most = Math.max(most, out.length);
    for (const g of new Set(out.map((s) => s.group))) {
      expect(out.filter((s) => s.group === g).length).toBeLessThanOrEqual(plan.maxUnavailable.group[g] ?? 1);
    }
    for (const r of new Set(out.map((s) => s.region))) {
      expect(out.filter((s) => s.region === r).length).toBeLessThanOrEqual(
        plan.maxUnavailable.region[r] ?? 1,
      );
    }
  }
  return most;
}

export interface DriveOptions extends EngineOptions {
  replica?: string;
  /** Clock step per pass. */
  stepMs?: number;
  maxPasses?: number;
  /** Assets that stop heartbeating. */
  silent?: readonly string[];
  /** Stop when this holds (checked after each pass). */
  until?: (state: string) => boolean;
}

/** Runs passes until the rollout ends (or `until`), checking the invariants after each. Returns its state. */
export async function drive(fleet: Fleet, options: DriveOptions = {}): Promise<string> {
  const { ctx, clock, plan, changeId } = fleet;
  const until = options.until ?? ((s: string) => (TERMINAL_ROLLOUT_STATES as readonly string[]).includes(s));
  let state = "";
  for (let pass = 0; pass < (options.maxPasses ?? 200); pass++) {
    await heartbeat(ctx, options.silent ?? []);
    await reconcileOnce(ctx, options.replica ?? "replica-1", { executor: "script", ...options });
    const row = await rolloutRow(ctx, changeId);
    await checkInvariants(ctx, plan, row.id);
    state = row.state;
    if (until(state)) return state;
    clock.advance(options.stepMs ?? 1000);
  }
  return state;
}
