import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/log.js";
import { enqueueStartingSoon } from "../src/changes/reminders.js";
import { reconcileOnce } from "../src/engine/reconcile.js";
import { loadPinnedPolicy } from "../src/policy/store.js";
import { persistActions } from "../src/rollout/apply.js";
import { releaseLeases } from "../src/rollout/leases.js";
import { loadRollout } from "../src/rollout/load-view.js";
import { STOP_ALL_SWITCH } from "../src/rollout/model.js";
import { startDueChanges } from "../src/rollout/starter.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { registerEngineLoops } from "../src/server/engine-loops.js";
import type { Store } from "../src/store/store.js";
import {
  assetRows,
  BASE_POLICY,
  checkRecordedIntervals,
  drive,
  type Fleet,
  heartbeat,
  rolloutRow,
  SCRIPT,
  scheduledChange,
} from "./helpers/engine.js";
import type { PlanSpec } from "./helpers/plans.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

/** 2 groups × 2 regions, 8 hosts: canary w1, then a wave of 3, then a wave of 4. */
function eightHosts(over: Partial<PlanSpec> = {}): PlanSpec {
  const names = ["w1", "w2", "w3", "w4", "d1", "d2", "d3", "d4"];
  return {
    targets: names.map((name, i) => ({
      name,
      group: name[0] === "w" ? "web" : "db",
      region: i % 2 === 0 ? "eu" : "us",
    })),
    phases: [{ assets: ["w1"] }, { assets: ["w2", "d1", "d2"] }, { assets: ["w3", "w4", "d3", "d4"] }],
    maxUnavailable: { group: { web: 2, db: 1 }, region: { eu: 2, us: 2 } },
    ...over,
  };
}

async function auditActions(fleet: Fleet, rolloutId: string): Promise<string[]> {
  const rows = await fleet.ctx.store.db
    .selectFrom("audit_events")
    .select(["action"])
    .where("target_id", "=", rolloutId)
    .orderBy("seq")
    .execute();
  return rows.map((r) => r.action);
}

async function outboxEvents(fleet: Fleet): Promise<string[]> {
  const rows = await fleet.ctx.store.db
    .selectFrom("outbox")
    .select(["event"])
    .where("subject_id", "=", fleet.changeId)
    .orderBy("created_at")
    .execute();
  return rows.map((r) => r.event);
}

async function changeState(fleet: Fleet): Promise<string> {
  const row = await fleet.ctx.store.db
    .selectFrom("change_requests")
    .select(["state"])
    .where("id", "=", fleet.changeId)
    .executeTakeFirstOrThrow();
  return row.state;
}

async function operations(fleet: Fleet, rolloutId: string) {
  return fleet.ctx.store.db
    .selectFrom("operations")
    .select(["idempotency_key", "asset_id", "action", "attempt", "state"])
    .where("rollout_id", "=", rolloutId)
    .orderBy("created_at")
    .execute();
}

describe.each(DIALECTS)("rollout engine on %s", (dialect) => {
  let store: Store & { dispose(): Promise<void> };
  beforeEach(async () => {
    store = await freshStore(dialect);
    SCRIPT.scripts.clear();
  });
  afterEach(async () => {
    await store.dispose();
  });

  async function started(spec: PlanSpec, options: Parameters<typeof scheduledChange>[2] = {}) {
    const fleet = await scheduledChange(store, spec, options);
    const report = await startDueChanges(fleet.ctx);
    expect(report.started).toHaveLength(1);
    return { fleet, rolloutId: report.started[0] as string };
  }

  it("a good change runs canary first, wave by wave, within max unavailable, to completed", async () => {
    const { fleet, rolloutId } = await started(eightHosts({ finalVerification: true }));
    expect(await changeState(fleet)).toBe("running");
    expect(await drive(fleet)).toBe("completed");
    expect(await changeState(fleet)).toBe("completed");
    const assets = await assetRows(fleet.ctx, rolloutId);
    expect(assets.map((a) => a.state)).toEqual(Array(8).fill("done"));
    for (const a of assets) {
      expect(a.started_at).not.toBeNull();
      expect(a.finished_at).not.toBeNull();
      expect(a.unavailable_since).toBeNull();
    }
    // More than one asset out at once (the limits allow it), never more than allowed.
    expect(await checkRecordedIntervals(fleet.ctx, fleet.plan, rolloutId)).toBeGreaterThan(1);
    // Canary first: the canary passed before any other asset was dispatched.
    const actions = await auditActions(fleet, rolloutId);
    const firstPass = actions.indexOf("rollout.phase.passed");
    const dispatches = actions
      .map((a, i) => [a, i] as const)
      .filter(([a]) => a === "rollout.operation.dispatched");
    expect(dispatches[0]?.[1]).toBeLessThan(firstPass);
    expect(dispatches[1]?.[1]).toBeGreaterThan(firstPass);
    // One patch and one verification per asset, each key once.
    const ops = await operations(fleet, rolloutId);
    expect(ops.filter((o) => o.action === "patch")).toHaveLength(8);
    expect(ops.filter((o) => o.action === "verify")).toHaveLength(8);
    expect(new Set(ops.map((o) => o.idempotency_key)).size).toBe(ops.length);
    expect(ops.every((o) => o.state === "succeeded")).toBe(true);
    expect(await outboxEvents(fleet)).toEqual(["started", "completed"]);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("a failed canary rolls back the canary only, ends rolled-back with an incident and the time to rollback", async () => {
    SCRIPT.script("w1", "patch", "fail");
    const { fleet, rolloutId } = await started(eightHosts());
    expect(await drive(fleet)).toBe("rolled-back");
    expect(await changeState(fleet)).toBe("rolled-back");
    const assets = await assetRows(fleet.ctx, rolloutId);
    expect(assets.map((a) => `${a.asset_name}:${a.state}`)).toEqual([
      "w1:reverted",
      ...["w2", "d1", "d2", "w3", "w4", "d3", "d4"].map((n) => `${n}:pending`),
    ]);
    const rollout = await rolloutRow(fleet.ctx, fleet.changeId);
    expect(rollout.rollback_scope).toBe("phase");
    expect(JSON.parse(rollout.failed_gate ?? "{}")).toMatchObject({ kind: "failure-budget", status: "fail" });
    expect(Number(rollout.time_to_rollback_ms)).toBeGreaterThan(0);
    const incident = await store.db
      .selectFrom("incidents")
      .selectAll()
      .where("rollout_id", "=", rolloutId)
      .executeTakeFirstOrThrow();
    expect(incident.postmortem_state).toBe("pending");
    expect(JSON.parse(incident.assets)).toEqual([
      expect.objectContaining({ name: "w1", state: "reverted", fromVersion: "1.0-1" }),
    ]);
    const timeline = JSON.parse(incident.timeline) as Array<{ event: string }>;
    expect(timeline.map((t) => t.event)).toEqual(
      expect.arrayContaining([
        "rollout.started",
        "rollout.phase.failed",
        "rollout.rolling-back",
        "rollout.asset.reverted",
        "rollout.rolled-back",
      ]),
    );
    expect(await outboxEvents(fleet)).toEqual(["started", "failed", "rolled-back"]);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("a later wave's failure returns the whole change, in reverse order, within the limits", async () => {
    SCRIPT.script("d3", "patch", "fail");
    const { fleet, rolloutId } = await started(eightHosts());
    expect(await drive(fleet)).toBe("rolled-back");
    const assets = await assetRows(fleet.ctx, rolloutId);
    const touched = assets.filter((a) => a.state !== "pending");
    expect(touched.every((a) => a.state === "reverted")).toBe(true);
    expect(touched.map((a) => a.asset_name)).toEqual(expect.arrayContaining(["w1", "w2", "d1", "d2", "d3"]));
    const rollout = await rolloutRow(fleet.ctx, fleet.changeId);
    expect(rollout.rollback_scope).toBe("change");
    // Reverts were dispatched in reverse seq.
    const events = await store.db
      .selectFrom("audit_events")
      .select(["data"])
      .where("target_id", "=", rolloutId)
      .where("action", "=", "rollout.operation.dispatched")
      .orderBy("seq")
      .execute();
    const seqOf = new Map(assets.map((a) => [a.asset_name, Number(a.seq)]));
    const reverts = events
      .map((e) => JSON.parse(e.data) as { action: string; asset: string })
      .filter((d) => d.action === "revert")
      .map((d) => seqOf.get(d.asset) ?? -1);
    expect(reverts).toEqual([...reverts].sort((a, b) => b - a));
    await checkRecordedIntervals(fleet.ctx, fleet.plan, rolloutId);
  });

  it("with a budget of 1 a lost host is counted and the rollout goes on without it", async () => {
    SCRIPT.script("d1", "patch", "lose");
    const spec = eightHosts();
    const { fleet, rolloutId } = await started({
      ...spec,
      phases: spec.phases.map((p, i) => ({ ...p, failureBudget: i === 0 ? 0 : 1 })),
      totalFailureBudget: 1,
      maxUnavailable: { group: { web: 2, db: 2 }, region: { eu: 2, us: 2 } },
    });
    expect(await drive(fleet)).toBe("completed");
    const assets = await assetRows(fleet.ctx, rolloutId);
    expect(assets.find((a) => a.asset_name === "d1")).toMatchObject({ state: "failed" });
    expect(assets.find((a) => a.asset_name === "d1")?.state_reason).toMatch(/^lost: /);
    expect(assets.filter((a) => a.state === "done")).toHaveLength(7);
  });

  it("with a budget of 0 a lost host rolls the change back", async () => {
    SCRIPT.script("d1", "patch", "lose");
    const { fleet, rolloutId } = await started(eightHosts());
    expect(await drive(fleet)).toBe("rolled-back");
    const assets = await assetRows(fleet.ctx, rolloutId);
    expect(assets.find((a) => a.asset_name === "d1")?.state).toBe("reverted");
  });

  it("a revert that fails ends the rollout failed, with an incident", async () => {
    SCRIPT.script("w1", "patch", "fail");
    SCRIPT.script("w1", "revert", "fail");
    const { fleet, rolloutId } = await started(eightHosts());
    expect(await drive(fleet)).toBe("failed");
    expect(await changeState(fleet)).toBe("failed");
    const incident = await store.db
      .selectFrom("incidents")
      .selectAll()
      .where("rollout_id", "=", rolloutId)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(incident.what_failed)).toMatchObject({ outcome: "failed", revertFailed: ["w1"] });
  });

  it("a rollback slower than the phase's progress deadline is not cut short by it", async () => {
    SCRIPT.script("w1", "patch", "fail");
    const { fleet, rolloutId } = await started(eightHosts({ progressDeadlineMs: 30_000 }));
    SCRIPT.script("w1", "revert", "hang");
    expect(await drive(fleet, { stepMs: 2000, until: (s) => s === "rolling-back" })).toBe("rolling-back");
    // The revert runs for 60 s, twice the forward phase's deadline, then finishes.
    expect(await drive(fleet, { stepMs: 2000, maxPasses: 30, until: () => false })).toBe("rolling-back");
    SCRIPT.script("w1", "revert", "ok");
    expect(await drive(fleet, { stepMs: 2000 })).toBe("rolled-back");
    const w1 = (await assetRows(fleet.ctx, rolloutId)).find((a) => a.asset_name === "w1");
    expect(w1?.state).toBe("reverted");
  });

  it("a hung revert is given up at the revert timeout and reported as hung: incident and notification", async () => {
    SCRIPT.script("w1", "patch", "fail");
    SCRIPT.script("w1", "revert", "hang");
    const { fleet, rolloutId } = await started(
      eightHosts({ progressDeadlineMs: 0, revertTimeoutMs: 120_000 }),
    );
    expect(await drive(fleet, { stepMs: 2000, until: (s) => s === "rolling-back" })).toBe("rolling-back");
    const since = fleet.clock.now().getTime();
    expect(await drive(fleet, { stepMs: 10_000 })).toBe("failed");
    const waited = fleet.clock.now().getTime() - since;
    expect(waited).toBeGreaterThanOrEqual(120_000);
    expect(waited).toBeLessThan(150_000);
    const rollout = await rolloutRow(fleet.ctx, fleet.changeId);
    expect(rollout.state_reason).toBe("revert hung on w1");
    const w1 = (await assetRows(fleet.ctx, rolloutId)).find((a) => a.asset_name === "w1");
    expect(w1).toMatchObject({ state: "failed" });
    expect(w1?.state_reason).toMatch(/^revert hung: no result within 120000 ms .*rollout\.revertTimeout/);
    const incident = await store.db
      .selectFrom("incidents")
      .selectAll()
      .where("rollout_id", "=", rolloutId)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(incident.what_failed)).toMatchObject({
      outcome: "failed",
      revertFailed: ["w1"],
      revertHung: ["w1"],
    });
    const failed = await fleet.ctx.store.db
      .selectFrom("outbox")
      .select(["event", "payload"])
      .where("subject_id", "=", fleet.changeId)
      .where("event", "=", "failed")
      .execute();
    // The gate's failure first, then the rollback's, naming the hung host.
    expect(
      failed.map((f) => (JSON.parse(f.payload) as { data: Record<string, unknown> }).data.revertHung),
    ).toEqual([undefined, ["w1"]]);
  });

  it("rollback: manual halts the rollout; an abort then rolls back and ends aborted", async () => {
    SCRIPT.script("w2", "patch", "fail");
    const { fleet, rolloutId } = await started(eightHosts({ rollback: "manual" }));
    expect(await drive(fleet, { until: (s) => s === "paused" })).toBe("paused");
    const halted = await rolloutRow(fleet.ctx, fleet.changeId);
    expect(halted.state_reason).toMatch(/^halted: /);
    expect(halted.paused_by).toBeNull();
    const before = (await operations(fleet, rolloutId)).length;
    // It stays halted: the engine lifts no halt by itself.
    expect(await drive(fleet, { maxPasses: 5, until: () => false })).toBe("paused");
    expect((await operations(fleet, rolloutId)).length).toBe(before);
    expect(await changeState(fleet)).toBe("paused");
    // What `rollout abort` writes (its intent); the engine acts on it.
    await store.write(async (trx) => {
      await trx
        .updateTable("rollouts")
        .set({
          state: "rolling-back",
          failed_gate: JSON.stringify({ kind: "abort", reason: "bad patch", by: "ops" }),
          gate_failed_at: fleet.clock.now().toISOString(),
          rollback_scope: "change",
          revision: Number(halted.revision) + 1,
        })
        .where("id", "=", rolloutId)
        .execute();
    });
    expect(await drive(fleet)).toBe("aborted");
    expect(await changeState(fleet)).toBe("aborted");
    const assets = await assetRows(fleet.ctx, rolloutId);
    expect(assets.filter((a) => a.state !== "pending").every((a) => a.state === "reverted")).toBe(true);
    expect(
      await store.db.selectFrom("incidents").select("id").where("rollout_id", "=", rolloutId).execute(),
    ).toEqual([]);
  });

  it.each([
    ["finish-in-flight", "done"],
    ["pause-now", "pending"],
  ] as const)(
    "a window closing with onClose %s pauses, and it resumes in the next window",
    async (onClose, inFlightEnd) => {
      const policy = `${BASE_POLICY}maintenanceWindows:
  - {name: first, start: "2026-03-02T10:00", duration: 10m, timezone: UTC, onClose: ${onClose}}
  - {name: second, start: "2026-03-02T12:00", duration: 1h, timezone: UTC}
`;
      // The canary's host takes its operation only in the second window.
      SCRIPT.script("w1", "patch", onClose === "pause-now" ? ["untaken", "ok"] : "ok");
      const { fleet, rolloutId } = await started(eightHosts(), { policy });
      await drive(fleet, { maxPasses: 1, until: () => true });
      fleet.clock.set("2026-03-02T10:10:00.000Z");
      expect(await drive(fleet, { maxPasses: 6, until: () => false, stepMs: 1000 })).toBe("paused");
      const paused = await rolloutRow(fleet.ctx, fleet.changeId);
      expect(paused.state_reason).toMatch(/^window-closed: outside every maintenance window/);
      const canary = (await assetRows(fleet.ctx, rolloutId))[0];
      expect(canary?.state).toBe(inFlightEnd);
      if (onClose === "pause-now") expect(Number(canary?.attempt)).toBe(2);
      const ops = await operations(fleet, rolloutId);
      expect(ops.filter((o) => o.state === "queued" || o.state === "leased")).toEqual([]);
      expect(await changeState(fleet)).toBe("paused");
      fleet.clock.set("2026-03-02T12:00:00.000Z");
      expect(await drive(fleet)).toBe("completed");
      expect(await outboxEvents(fleet)).toEqual(["started", "paused", "resumed", "completed"]);
    },
  );

  it("a freeze starting mid-rollout pauses it until the freeze ends", async () => {
    const policy = `${BASE_POLICY}freezes:
  - {name: launch, from: "2026-03-02T10:00:05", to: "2026-03-02T11:00", timezone: UTC}
`;
    const { fleet } = await started(eightHosts(), { policy });
    expect(await drive(fleet, { until: (s) => s === "paused" })).toBe("paused");
    expect((await rolloutRow(fleet.ctx, fleet.changeId)).state_reason).toMatch(
      /^window-closed: frozen by "launch"/,
    );
    fleet.clock.set("2026-03-02T11:00:00.000Z");
    expect(await drive(fleet)).toBe("completed");
    // The time paused is not counted against the phase's deadline.
    const phases = await store.db.selectFrom("rollout_phases").select(["paused_ms"]).execute();
    expect(phases.some((p) => Number(p.paused_ms) > 0)).toBe(true);
  });

  it("a phase that misses its progress deadline fails and rolls back", async () => {
    SCRIPT.script("w2", "patch", "hang");
    const { fleet, rolloutId } = await started(eightHosts({ progressDeadlineMs: 30_000 }));
    expect(await drive(fleet, { stepMs: 2000 })).toBe("rolled-back");
    const rollout = await rolloutRow(fleet.ctx, fleet.changeId);
    expect(JSON.parse(rollout.failed_gate ?? "{}")).toMatchObject({ kind: "progress-deadline" });
    const w2 = (await assetRows(fleet.ctx, rolloutId)).find((a) => a.asset_name === "w2");
    // Its hung operation was given up (lost) once it outlived the deadline, then the host was reverted.
    expect(w2?.state).toBe("reverted");
  });

  it("the emergency stop pauses a running rollout and keeps new ones from starting until lifted", async () => {
    const { fleet } = await started(eightHosts());
    await drive(fleet, { maxPasses: 2, until: () => false });
    await store.write(async (trx) => {
      await trx
        .insertInto("engine_switches")
        .values({
          name: STOP_ALL_SWITCH,
          value: "on",
          reason: "incident 42",
          set_by: "ops",
          set_at: fleet.clock.now().toISOString(),
        })
        .execute();
    });
    expect(await drive(fleet, { until: (s) => s === "paused" })).toBe("paused");
    expect((await rolloutRow(fleet.ctx, fleet.changeId)).state_reason).toBe("stop-all: incident 42");
    const other = await scheduledChange(store, { targets: [{ name: "x1" }], phases: [{ assets: ["x1"] }] });
    other.clock.set(fleet.clock.now().toISOString());
    expect((await startDueChanges(other.ctx)).started).toEqual([]);
    await store.write((trx) =>
      trx.deleteFrom("engine_switches").where("name", "=", STOP_ALL_SWITCH).execute(),
    );
    expect(await drive(fleet)).toBe("completed");
    expect((await startDueChanges(other.ctx)).started).toHaveLength(1);
  });

  it.each(["afterPersist", "afterDispatch"] as const)(
    "a crash %s resumes without a second operation for any key",
    async (hook) => {
      const { fleet, rolloutId } = await started(eightHosts({ finalVerification: true }));
      let crashes = 0;
      // Every third decision that dispatches something dies at the hook; a fresh context carries on.
      for (let pass = 0; pass < 300; pass++) {
        const ctx = contextFor(store, fleet.clock.now);
        ctx.config.heartbeatIntervalMs = 10_000;
        await heartbeat(ctx);
        let decisions = 0;
        try {
          await reconcileOnce(ctx, "replica-1", {
            executor: "script",
            [hook]: async () => {
              decisions += 1;
              if ((pass + decisions) % 3 === 0) {
                crashes += 1;
                throw new Error("killed");
              }
            },
          });
        } catch {
          // reconcileOnce reports per rollout; nothing escapes, but a crash must not either.
        }
        const row = await rolloutRow(ctx, fleet.changeId);
        if (row.state === "completed") break;
        fleet.clock.advance(1000);
      }
      expect(crashes).toBeGreaterThan(3);
      expect((await rolloutRow(fleet.ctx, fleet.changeId)).state).toBe("completed");
      const ops = await operations(fleet, rolloutId);
      expect(new Set(ops.map((o) => o.idempotency_key)).size).toBe(ops.length);
      expect(ops.filter((o) => o.action === "patch")).toHaveLength(8);
      for (const [key, n] of SCRIPT.effects()) if (key.includes(fleet.changeId)) expect(n).toBe(1);
      await checkRecordedIntervals(fleet.ctx, fleet.plan, rolloutId);
      expect((await verifyAuditChain(store.db)).ok).toBe(true);
    },
  );

  it("a pass after the first reads what was written since, and a foreign revision reads everything", async () => {
    const { fleet, rolloutId } = await started(eightHosts());
    await heartbeat(fleet.ctx);
    await drive(fleet, { maxPasses: 1, until: () => true });
    const w2 = fleet.ids.get("w2") as string;
    const view = async () => {
      const loaded = await loadRollout(store.db, rolloutId, fleet.clock.now(), 10_000);
      if (!loaded) throw new Error("no rollout");
      return loaded.view;
    };
    const w2Of = async () => (await view()).assets.find((a) => a.id === w2);
    expect((await w2Of())?.heartbeating).toBe(true);
    // A host's report (it sets updated_at, as every writer of these rows does): seen by the next read.
    await store.write((trx) =>
      trx
        .updateTable("rollout_assets")
        .set({ state_reason: "reported", updated_at: fleet.clock.now().toISOString() })
        .where("rollout_id", "=", rolloutId)
        .where("asset_id", "=", w2)
        .execute(),
    );
    expect((await w2Of())?.reason).toBe("reported");
    // Its agent fell silent: the next read says so without the asset's row being written.
    await store.write((trx) =>
      trx
        .updateTable("assets")
        .set({ last_seen_at: "2000-01-01T00:00:00.000Z" })
        .where("id", "=", w2)
        .execute(),
    );
    expect((await w2Of())?.heartbeating).toBe(false);
    await heartbeat(fleet.ctx);
    expect((await w2Of())?.heartbeating).toBe(true);
    // A write that leaves updated_at as it was, with the revision bumped (as operator controls do).
    await store.write(async (trx) => {
      await trx
        .updateTable("rollout_assets")
        .set({ state_reason: "controlled", updated_at: "2000-01-01T00:00:00.000Z" })
        .where("rollout_id", "=", rolloutId)
        .where("asset_id", "=", w2)
        .execute();
      await trx
        .updateTable("rollouts")
        .set((eb) => ({ revision: eb("revision", "+", 1) }))
        .where("id", "=", rolloutId)
        .execute();
    });
    expect((await w2Of())?.reason).toBe("controlled");
    // The engine goes on from there to the end.
    expect(await drive(fleet)).toBe("completed");
  });

  it("a delta read walks an index to the rows written since, not every row of the rollout", async () => {
    if (dialect !== "sqlite") return;
    for (const [table, index] of [
      ["rollout_assets", "rollout_assets_by_update"],
      ["operations", "operations_by_rollout_update"],
    ] as const) {
      const plan = await sql<{ detail: string }>`explain query plan select * from ${sql.table(table)}
        where rollout_id = ${"ro-x"} and updated_at >= ${"2026-01-01T00:00:00.000Z"}`.execute(store.db);
      expect(plan.rows.map((r) => r.detail).join(" | ")).toContain(index);
    }
  });

  it("a decision is written only onto the state it was made on", async () => {
    const { fleet, rolloutId } = await started(eightHosts());
    await drive(fleet, { maxPasses: 1, until: () => true });
    const now = fleet.clock.now();
    const policy = await loadPinnedPolicy(store.db, fleet.plan.policy);
    const w1 = fleet.ids.get("w1") as string;
    const attempt = async (to: "failed" | "pending") => {
      const loaded = await loadRollout(store.db, rolloutId, now, 10_000);
      if (!loaded) throw new Error("no rollout");
      return persistActions(fleet.ctx, {
        loaded,
        actions: [
          {
            type: "asset.transition",
            assetId: w1,
            from: "snapshotting",
            to,
            reason: "test",
            opId: null,
            set: {},
          },
        ],
        replicaId: "replica-1",
        now,
        policy,
        executor: "script",
        leaseTtlMs: 3000,
      });
    };
    const audit = async () => (await auditActions(fleet, rolloutId)).length;
    const setAsset = (state: string) =>
      store.write((trx) =>
        trx
          .updateTable("rollout_assets")
          .set({ state })
          .where("rollout_id", "=", rolloutId)
          .where("asset_id", "=", w1)
          .execute(),
      );

    await setAsset("snapshotting");
    // An operator control landed between the read and the write: nothing is written.
    const loaded = await loadRollout(store.db, rolloutId, now, 10_000);
    await store.write((trx) =>
      trx.updateTable("rollouts").set({ revision: 99 }).where("id", "=", rolloutId).execute(),
    );
    const before = await audit();
    const stale = await persistActions(fleet.ctx, {
      loaded: loaded as NonNullable<typeof loaded>,
      actions: [
        {
          type: "asset.transition",
          assetId: w1,
          from: "snapshotting",
          to: "failed",
          reason: "x",
          opId: null,
          set: {},
        },
      ],
      replicaId: "replica-1",
      now,
      policy,
      executor: "script",
      leaseTtlMs: 3000,
    });
    expect(stale).toMatchObject({ applied: false });
    expect(await audit()).toBe(before);
    expect((await assetRows(fleet.ctx, rolloutId))[0]?.state).toBe("snapshotting");

    // The host reported a step meanwhile: the move goes on from where the asset really is.
    await setAsset("applying");
    expect(await attempt("failed")).toMatchObject({ applied: true });
    const event = await store.db
      .selectFrom("audit_events")
      .select("data")
      .where("action", "=", "rollout.asset.failed")
      .orderBy("seq", "desc")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(event.data)).toMatchObject({ from: "applying", to: "failed" });

    // Sending an asset back to pending needs it exactly where the decision saw it.
    await setAsset("applying");
    expect(await attempt("pending")).toMatchObject({ applied: false });
    // Another replica holds the lease: nothing is written either.
    await setAsset("snapshotting");
    await store.write((trx) =>
      trx.updateTable("rollouts").set({ lease_owner: "replica-9" }).where("id", "=", rolloutId).execute(),
    );
    expect(await attempt("failed")).toMatchObject({ applied: false, why: "the lease is no longer ours" });
  });

  it("one replica at a time drives a rollout; another takes over once its lease expired", async () => {
    const { fleet, rolloutId } = await started(eightHosts());
    const first = await reconcileOnce(fleet.ctx, "replica-1", { executor: "script" });
    expect(first.reconciled).toEqual([rolloutId]);
    const second = await reconcileOnce(fleet.ctx, "replica-2", { executor: "script" });
    expect(second.reconciled).toEqual([]);
    fleet.clock.advance(3 * fleet.ctx.config.enginePassMs + 1);
    const third = await reconcileOnce(fleet.ctx, "replica-2", { executor: "script" });
    expect(third.reconciled).toEqual([rolloutId]);
    expect(await drive(fleet, { replica: "replica-2" })).toBe("completed");
    expect(await auditActions(fleet, rolloutId)).toContain("rollout.lease.taken");
  });

  it("a clean shutdown hands the rollout leases back once the last pass ended, audited", async () => {
    const { fleet, rolloutId } = await started(eightHosts());
    const scheduler = new Scheduler({ logger: fleet.ctx.logger, replicaId: "replica-1" });
    let passes = 0;
    registerEngineLoops(scheduler, fleet.ctx, {
      intervalMs: 60_000,
      passes: {
        reconcile: async () => {
          passes += 1;
          await reconcileOnce(fleet.ctx, "replica-1", { executor: "script" });
        },
        handBack: async () => {
          // Only after the pass ended: a pass in flight still holds the lease it writes under.
          expect(passes).toBe(1);
          await releaseLeases(fleet.ctx, "replica-1");
        },
      },
    });
    scheduler.start();
    await expect.poll(() => passes).toBe(1);
    expect((await reconcileOnce(fleet.ctx, "replica-2", { executor: "script" })).reconciled).toEqual([]);
    await scheduler.stop();
    const lease = await store.db
      .selectFrom("rollouts")
      .select(["lease_owner", "lease_expires_at"])
      .where("id", "=", rolloutId)
      .executeTakeFirstOrThrow();
    expect(lease).toEqual({ lease_owner: null, lease_expires_at: null });
    // No waiting for the lease to expire: another replica takes the rollout at once and finishes it.
    const next = await reconcileOnce(fleet.ctx, "replica-2", { executor: "script" });
    expect(next.reconciled).toEqual([rolloutId]);
    // Another replica's lease is not this one's to hand back.
    expect(await releaseLeases(fleet.ctx, "replica-1")).toEqual([]);
    expect(await releaseLeases(fleet.ctx, "replica-3")).toEqual([]);
    const actions = await auditActions(fleet, rolloutId);
    expect(actions.filter((a) => a === "rollout.lease.released")).toHaveLength(1);
    expect(actions.lastIndexOf("rollout.lease.taken")).toBeGreaterThan(
      actions.indexOf("rollout.lease.released"),
    );
    expect(await drive(fleet, { replica: "replica-2" })).toBe("completed");
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("the starter waits notifyBefore after the starting-soon notification; 0s starts at once; never twice", async () => {
    const fleet = await scheduledChange(store, { ...eightHosts(), notifyBeforeMs: 30 * 60_000 });
    expect((await startDueChanges(fleet.ctx)).waiting).toEqual([
      { change: fleet.changeId, reason: "waiting for its starting-soon notification" },
    ]);
    expect(await enqueueStartingSoon(fleet.ctx)).toBe(1);
    fleet.clock.advance(29 * 60_000);
    expect((await startDueChanges(fleet.ctx)).started).toEqual([]);
    fleet.clock.advance(60_000);
    const [a, b] = await Promise.all([startDueChanges(fleet.ctx), startDueChanges(fleet.ctx)]);
    expect([...a.started, ...b.started]).toHaveLength(1);
    const rollouts = await store.db.selectFrom("rollouts").select("id").execute();
    expect(rollouts).toHaveLength(1);
    const change = await store.db
      .selectFrom("change_requests")
      .selectAll()
      .where("id", "=", fleet.changeId)
      .executeTakeFirstOrThrow();
    expect(change.rollout_id).toBe(rollouts[0]?.id);

    const now = await scheduledChange(store, {
      targets: [{ name: "z1" }],
      phases: [{ assets: ["z1"] }],
      notifyBeforeMs: 0,
    });
    expect((await startDueChanges(now.ctx)).started).toHaveLength(1);
  });

  it("a start outside the windows waits for the window; an approved emergency starts at once", async () => {
    const policy = `${BASE_POLICY}maintenanceWindows:
  - {name: later, start: "2026-03-02T20:00", duration: 1h, timezone: UTC}
`;
    const routine = await scheduledChange(store, eightHosts(), { policy });
    expect((await startDueChanges(routine.ctx)).waiting[0]?.reason).toMatch(
      /^outside every maintenance window/,
    );
    const urgent = await scheduledChange(
      store,
      { targets: [{ name: "e1" }], phases: [{ assets: ["e1"] }] },
      { policy, emergency: true },
    );
    const report = await startDueChanges(urgent.ctx);
    expect(report.started).toHaveLength(1);
    expect(await drive(urgent)).toBe("completed");
  });
});
