import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/log.js";
import {
  abortRollout,
  pauseRollout,
  promoteRollout,
  resumeAll,
  resumeRollout,
  retryAsset,
  skipAsset,
  stopAll,
} from "../src/rollout/controls.js";
import { showRollout } from "../src/rollout/queries.js";
import { startDueChanges } from "../src/rollout/starter.js";
import type { Store } from "../src/store/store.js";
import { userActor } from "./helpers/actors.js";
import { drive, type Fleet, rolloutRow, SCRIPT, scheduledChange } from "./helpers/engine.js";
import type { PlanSpec } from "./helpers/plans.js";
import { DIALECTS, freshStore } from "./helpers/stores.js";

const OPS = userActor("alice", "operator");

/** Canary w1, then w2 and w3, then w4 and w5; one asset out at a time. */
function fiveHosts(over: Partial<PlanSpec> = {}): PlanSpec {
  return {
    targets: ["w1", "w2", "w3", "w4", "w5"].map((name) => ({ name })),
    phases: [{ assets: ["w1"] }, { assets: ["w2", "w3"] }, { assets: ["w4", "w5"] }],
    defaultLimit: 1,
    ...over,
  };
}

// The controls write intent; the engine (the real reconcile pass, with a scripted executor for the
// hosts) acts on it on its next pass.
describe.each(DIALECTS)("operator controls acted on by the engine on %s", (dialect) => {
  let store: Store & { dispose(): Promise<void> };
  beforeEach(async () => {
    store = await freshStore(dialect);
    SCRIPT.scripts.clear();
  });
  afterEach(async () => {
    await store.dispose();
  });

  async function started(spec: PlanSpec): Promise<{ fleet: Fleet; rolloutId: string }> {
    const fleet = await scheduledChange(store, spec);
    const report = await startDueChanges(fleet.ctx);
    expect(report.started).toHaveLength(1);
    return { fleet, rolloutId: report.started[0] as string };
  }
  const opCount = async (rolloutId: string) =>
    (await store.db.selectFrom("operations").select("id").where("rollout_id", "=", rolloutId).execute())
      .length;
  const changeState = async (fleet: Fleet) =>
    (
      await store.db
        .selectFrom("change_requests")
        .select("state")
        .where("id", "=", fleet.changeId)
        .executeTakeFirstOrThrow()
    ).state;

  it("pause holds every new dispatch until resume; the change follows; the rollout then completes", async () => {
    const { fleet, rolloutId } = await started(fiveHosts());
    await drive(fleet, { until: () => false, maxPasses: 8 });
    await pauseRollout(fleet.ctx, OPS, rolloutId, { reason: "watching the dashboards" });
    expect(await changeState(fleet)).toBe("paused");
    const before = await opCount(rolloutId);
    expect(await drive(fleet, { until: () => false, maxPasses: 10 })).toBe("paused");
    expect(await opCount(rolloutId)).toBe(before);
    // Operations in flight at the pause end and are recorded; nothing is left out of service for good.
    const view = await showRollout(fleet.ctx, rolloutId);
    expect(view.assets.filter((a) => ["snapshotting", "applying", "verifying"].includes(a.state))).toEqual(
      [],
    );

    await resumeRollout(fleet.ctx, OPS, rolloutId, { reason: "all green" });
    expect(await drive(fleet)).toBe("completed");
    expect(await changeState(fleet)).toBe("completed");
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("abort mid-rollout reverts every touched asset and ends aborted", async () => {
    const { fleet, rolloutId } = await started(fiveHosts());
    await drive(fleet, { until: () => false, maxPasses: 12 });
    const touched = (await showRollout(fleet.ctx, rolloutId)).assets.filter((a) => a.state !== "pending");
    expect(touched.length).toBeGreaterThan(1);
    await abortRollout(fleet.ctx, OPS, rolloutId, { reason: "wrong build" });
    expect(await drive(fleet)).toBe("aborted");
    const view = await showRollout(fleet.ctx, rolloutId);
    for (const a of view.assets) expect(["pending", "reverted"]).toContain(a.state);
    expect(view.assets.filter((a) => a.state === "reverted").map((a) => a.name)).toEqual(
      touched.map((a) => a.name),
    );
    expect(await changeState(fleet)).toBe("aborted");
  });

  it("retry of the failed canary of a halted rollout, then resume, completes it", async () => {
    SCRIPT.script("w1", "patch", ["fail", "ok"]);
    const { fleet, rolloutId } = await started(fiveHosts({ rollback: "manual" }));
    expect(await drive(fleet, { until: (s) => s === "paused" })).toBe("paused");
    expect((await rolloutRow(fleet.ctx, fleet.changeId)).state_reason).toMatch(/^halted: /);
    const retried = await retryAsset(fleet.ctx, OPS, rolloutId, { reason: "transient", asset: "w1" });
    expect(retried.assets[0]).toMatchObject({ name: "w1", state: "pending", attempt: 2 });
    await resumeRollout(fleet.ctx, OPS, rolloutId, { reason: "retried the canary" });
    expect(await drive(fleet)).toBe("completed");
    const keys = await store.db
      .selectFrom("operations")
      .select("idempotency_key")
      .where("rollout_id", "=", rolloutId)
      .where("asset_id", "=", fleet.ids.get("w1") as string)
      .execute();
    expect(keys.map((k) => k.idempotency_key.split("/").slice(-2).join("/")).sort()).toEqual([
      "patch/1",
      "patch/2",
    ]);
  });

  it("promote ends a long observation early", async () => {
    const { fleet, rolloutId } = await started(
      fiveHosts({ phases: [{ assets: ["w1"], observeMs: 3_600_000 }, { assets: ["w2", "w3", "w4", "w5"] }] }),
    );
    await drive(fleet, {
      until: () => false,
      maxPasses: 30,
    });
    const observing = await showRollout(fleet.ctx, rolloutId);
    expect(observing.phases[0]?.state).toBe("observing");
    await promoteRollout(fleet.ctx, OPS, rolloutId, { reason: "canary metrics are clean" });
    // Far fewer passes than the hour of observation would take.
    expect(await drive(fleet, { maxPasses: 60 })).toBe("completed");
    expect((await showRollout(fleet.ctx, rolloutId)).phases[0]).toMatchObject({
      state: "passed",
      promotedBy: "alice",
    });
  });

  it("skip leaves an asset out: it is never dispatched", async () => {
    const { fleet, rolloutId } = await started(fiveHosts());
    await skipAsset(fleet.ctx, OPS, rolloutId, { reason: "being decommissioned", asset: "w5" });
    expect(await drive(fleet)).toBe("completed");
    const view = await showRollout(fleet.ctx, rolloutId);
    expect(view.assets.find((a) => a.name === "w5")).toMatchObject({ state: "skipped" });
    const ops = await store.db
      .selectFrom("operations")
      .select("id")
      .where("asset_id", "=", fleet.ids.get("w5") as string)
      .execute();
    expect(ops).toEqual([]);
  });

  it("stop-all pauses the running rollout on the next pass; resume-all lets it finish", async () => {
    const { fleet, rolloutId } = await started(fiveHosts());
    await drive(fleet, { until: () => false, maxPasses: 4 });
    await stopAll(fleet.ctx, OPS, { reason: "incident 42" });
    expect(await drive(fleet, { until: (s) => s === "paused", maxPasses: 10 })).toBe("paused");
    expect((await rolloutRow(fleet.ctx, fleet.changeId)).state_reason).toMatch(/^stop-all: /);
    const before = await opCount(rolloutId);
    expect(await drive(fleet, { until: () => false, maxPasses: 10 })).toBe("paused");
    expect(await opCount(rolloutId)).toBe(before);
    await resumeAll(fleet.ctx, OPS, { reason: "incident over" });
    expect(await drive(fleet)).toBe("completed");
  });
});
