import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isChangeState } from "../src/changes/lifecycle.js";
import { type AppError, isAppError } from "../src/domain/errors.js";
import type { Actor, Role } from "../src/domain/roles.js";
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
import { closeIncident, listIncidents, showIncident } from "../src/rollout/incident-commands.js";
import { listRollouts, showRollout } from "../src/rollout/queries.js";
import type { ServiceContext } from "../src/service/context.js";
import type { Store } from "../src/store/store.js";
import { userActor } from "./helpers/actors.js";
import {
  insertOperation,
  insertRollout,
  type RolloutRowsInput,
  updatePhaseRow,
} from "./helpers/rollout-rows.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const person = (role: Role, principal = `${role}-person`) =>
  userActor(principal, role, `${principal}-laptop`);
const OPS = person("operator", "alice");
const AGENT: Actor = {
  kind: "agent",
  id: "agent-1",
  name: "web-1",
  principal: "agent:web-1",
  role: null,
  assetId: "id-web-1",
};

async function refusal(run: Promise<unknown>): Promise<AppError> {
  try {
    await run;
  } catch (err) {
    if (isAppError(err)) return err;
    throw err;
  }
  throw new Error("expected the call to be refused");
}

describe.each(DIALECTS)("rollout controls on %s", (dialect) => {
  let store: Store & { dispose(): Promise<void> };
  let ctx: ServiceContext;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
  });
  afterAll(async () => {
    await store?.dispose();
  });

  const rolloutRow = (id: string) =>
    store.db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const events = (targetId: string) =>
    store.db
      .selectFrom("audit_events")
      .select(["action", "actor", "reason", "data"])
      .where("target_id", "=", targetId)
      .orderBy("seq")
      .execute();
  const auditCount = async () =>
    Number(
      (
        await store.db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const changeState = async (id: string) =>
    (
      await store.db
        .selectFrom("change_requests")
        .select("state")
        .where("id", "=", id)
        .executeTakeFirstOrThrow()
    ).state;

  it("pause writes the operator's intent, bumps the revision and audits it in the same write", async () => {
    const rows = await insertRollout(store);
    const view = await pauseRollout(ctx, OPS, rows.rolloutId, { reason: "  error budget burning  " });
    expect(view).toMatchObject({ state: "paused", pausedBy: "alice", stateReason: "error budget burning" });
    const row = await rolloutRow(rows.rolloutId);
    expect(Number(row.revision)).toBe(2);
    const trail = await events(rows.rolloutId);
    expect(trail.map((e) => e.action)).toEqual(["rollout.control.pause", "rollout.paused"]);
    expect(trail[0]).toMatchObject({ actor: "user:alice-laptop", reason: "error budget burning" });
    expect(JSON.parse(trail[0]?.data ?? "{}")).toMatchObject({
      principal: "alice",
      from: "running",
      to: "paused",
    });
    // The change mirrors its rollout where the change lifecycle knows the state.
    expect(await changeState(rows.changeId)).toBe(isChangeState("paused") ? "paused" : "running");
  });

  it.each([
    ["viewer", person("viewer")],
    ["approver", person("approver")],
    ["agent", AGENT],
  ] as const)("a %s is refused and nothing changes", async (_who, actor) => {
    const rows = await insertRollout(store);
    const before = await auditCount();
    const err = await refusal(pauseRollout(ctx, actor, rows.rolloutId, { reason: "mine" }));
    expect(err).toMatchObject({ code: "forbidden", reason: "rollout.operator-required" });
    expect(err.status).toBe(403);
    await expect(refusal(stopAll(ctx, actor, { reason: "mine" }))).resolves.toMatchObject({
      code: "forbidden",
    });
    const row = await rolloutRow(rows.rolloutId);
    expect(row).toMatchObject({ state: "running", paused_by: null });
    expect(Number(row.revision)).toBe(1);
    expect(await auditCount()).toBe(before);
  });

  it("an operator and an admin may operate", async () => {
    const a = await insertRollout(store);
    const b = await insertRollout(store);
    await expect(pauseRollout(ctx, OPS, a.rolloutId, { reason: "r" })).resolves.toMatchObject({
      state: "paused",
    });
    await expect(pauseRollout(ctx, person("admin"), b.rolloutId, { reason: "r" })).resolves.toMatchObject({
      pausedBy: "admin-person",
    });
  });

  it.each([undefined, "", "   "])(
    "a control without a reason (%j) is refused and changes nothing",
    async (reason) => {
      const rows = await insertRollout(store);
      const before = await auditCount();
      for (const run of [
        pauseRollout(ctx, OPS, rows.rolloutId, { reason }),
        abortRollout(ctx, OPS, rows.rolloutId, { reason }),
        retryAsset(ctx, OPS, rows.rolloutId, { reason, asset: "web-1" }),
        stopAll(ctx, OPS, { reason }),
      ]) {
        const err = await refusal(run);
        expect(err).toMatchObject({
          code: "validation",
          reason: "rollout.reason-required",
          where: "/reason",
        });
        expect(err.status).toBe(400);
      }
      expect(Number((await rolloutRow(rows.rolloutId)).revision)).toBe(1);
      expect(await auditCount()).toBe(before);
    },
  );

  it("resume lifts an operator's pause and the change follows", async () => {
    const rows = await insertRollout(store);
    await pauseRollout(ctx, OPS, rows.rolloutId, { reason: "look first" });
    const view = await resumeRollout(ctx, person("admin"), rows.rolloutId, { reason: "looked" });
    expect(view).toMatchObject({ state: "running", pausedBy: null, stateReason: "resumed: looked" });
    expect(Number((await rolloutRow(rows.rolloutId)).revision)).toBe(3);
    expect((await events(rows.rolloutId)).map((e) => e.action)).toEqual([
      "rollout.control.pause",
      "rollout.paused",
      "rollout.control.resume",
      "rollout.resumed",
    ]);
    expect(await changeState(rows.changeId)).toBe("running");
  });

  it("pausing a rollout the engine paused makes it the operator's pause (no window reopening lifts it)", async () => {
    const rows = await insertRollout(store, {
      state: "paused",
      stateReason: "window-closed: outside every window",
    });
    const view = await pauseRollout(ctx, OPS, rows.rolloutId, { reason: "hold it until Monday" });
    expect(view).toMatchObject({ state: "paused", pausedBy: "alice", stateReason: "hold it until Monday" });
    // No transition: one control event only.
    expect((await events(rows.rolloutId)).map((e) => e.action)).toEqual(["rollout.control.pause"]);
    await expect(resumeRollout(ctx, OPS, rows.rolloutId, { reason: "Monday" })).resolves.toMatchObject({
      state: "running",
    });
  });

  it("resume of a rollout halted after a failed gate lets the engine judge the phase again", async () => {
    const rows = await insertRollout(store, {
      state: "paused",
      stateReason: "halted: canary: health gate failed",
      phases: [{ name: "canary", state: "failed" }],
    });
    await expect(resumeRollout(ctx, OPS, rows.rolloutId, { reason: "fixed" })).resolves.toMatchObject({
      state: "running",
    });
  });

  const illegal: Array<[string, RolloutRowsInput, (id: string) => Promise<unknown>, RegExp]> = [
    [
      "pause a completed rollout",
      { state: "completed" },
      (id) => pauseRollout(ctx, OPS, id, { reason: "r" }),
      /is completed/,
    ],
    [
      "pause a rollout an operator paused",
      { state: "paused", pausedBy: "bob" },
      (id) => pauseRollout(ctx, OPS, id, { reason: "r" }),
      /bob paused it already/,
    ],
    [
      "resume a running rollout",
      {},
      (id) => resumeRollout(ctx, OPS, id, { reason: "r" }),
      /only a rollout that is paused/,
    ],
    [
      "resume a rollout the emergency stop paused",
      { state: "paused", stateReason: "stop-all: incident 42" },
      (id) => resumeRollout(ctx, OPS, id, { reason: "r" }),
      /resume-all/,
    ],
    [
      "resume a rollout whose window closed",
      { state: "paused", stateReason: "window-closed: outside every window" },
      (id) => resumeRollout(ctx, OPS, id, { reason: "r" }),
      /next one/,
    ],
    [
      "abort a rolled-back rollout",
      { state: "rolled-back" },
      (id) => abortRollout(ctx, OPS, id, { reason: "r" }),
      /is rolled-back/,
    ],
    [
      "abort a rollout already rolling back",
      { state: "rolling-back", rollbackScope: "phase" },
      (id) => abortRollout(ctx, OPS, id, { reason: "r" }),
      /only a rollout that is pending, running, paused/,
    ],
    [
      "abort a paused rollback",
      { state: "paused", stateReason: "stop-all: x", rollbackScope: "change" },
      (id) => abortRollout(ctx, OPS, id, { reason: "r" }),
      /rollback is under way/,
    ],
    [
      "promote a phase that is not observing",
      {},
      (id) => promoteRollout(ctx, OPS, id, { reason: "r" }),
      /canary is running; only an observing phase/,
    ],
    [
      "retry a pending asset",
      {},
      (id) => retryAsset(ctx, OPS, id, { reason: "r", asset: "web-1" }),
      /web-1 is pending; only a failed or reverted/,
    ],
    [
      "retry an asset of a phase that passed",
      {
        currentPhase: 1,
        phases: [
          { name: "canary", state: "passed" },
          { name: "wave-1", state: "running" },
        ],
        assets: [
          { name: "web-1", phase: 0, state: "failed" },
          { name: "web-2", phase: 1 },
        ],
      },
      (id) => retryAsset(ctx, OPS, id, { reason: "r", asset: "web-1" }),
      /phase canary is passed/,
    ],
    [
      "skip a done asset",
      { assets: [{ name: "web-1", phase: 0, state: "done" }] },
      (id) => skipAsset(ctx, OPS, id, { reason: "r", asset: "web-1" }),
      /web-1 is done; only a pending or failed/,
    ],
    [
      "retry during a rollback",
      {
        state: "rolling-back",
        rollbackScope: "change",
        assets: [{ name: "web-1", phase: 0, state: "failed" }],
      },
      (id) => retryAsset(ctx, OPS, id, { reason: "r", asset: "web-1" }),
      /is rolling-back/,
    ],
  ];
  it.each(illegal)(
    "refuses to %s (409 rollout.illegal-transition) and changes nothing",
    async (_n, input, run, message) => {
      const rows = await insertRollout(store, input);
      const before = await rolloutRow(rows.rolloutId);
      const count = await auditCount();
      const err = await refusal(run(rows.rolloutId));
      expect(err).toMatchObject({ code: "conflict", reason: "rollout.illegal-transition" });
      expect(err.status).toBe(409);
      expect(err.message).toMatch(message);
      expect(await rolloutRow(rows.rolloutId)).toEqual(before);
      expect(await auditCount()).toBe(count);
    },
  );

  it("an unknown rollout or asset is a 404 with its own reason", async () => {
    await expect(refusal(pauseRollout(ctx, OPS, "ro-nope", { reason: "r" }))).resolves.toMatchObject({
      reason: "rollout.not-found",
    });
    const rows = await insertRollout(store);
    const err = await refusal(retryAsset(ctx, OPS, rows.rolloutId, { reason: "r", asset: "db-9" }));
    expect(err).toMatchObject({ reason: "rollout.asset-not-found", where: "/asset" });
    expect(err.status).toBe(404);
  });

  it("abort of a rollout that touched hosts starts the rollback of the whole change", async () => {
    const rows = await insertRollout(store, {
      assets: [
        { name: "web-1", phase: 0, state: "done" },
        { name: "web-2", phase: 1 },
      ],
    });
    const view = await abortRollout(ctx, OPS, rows.rolloutId, { reason: "wrong package" });
    expect(view).toMatchObject({
      state: "rolling-back",
      rollbackScope: "change",
      failedGate: { kind: "abort", reason: "wrong package", by: "alice" },
    });
    expect(view.gateFailedAt).not.toBeNull();
    expect(view.finishedAt).toBeNull();
    expect((await events(rows.rolloutId)).map((e) => e.action)).toEqual([
      "rollout.control.abort",
      "rollout.rolling-back",
    ]);
  });

  it("abort of a rollout that touched nothing ends aborted at once", async () => {
    const rows = await insertRollout(store);
    const view = await abortRollout(ctx, OPS, rows.rolloutId, { reason: "not today" });
    expect(view).toMatchObject({ state: "aborted", failedGate: { kind: "abort", by: "alice" } });
    expect(view.finishedAt).not.toBeNull();
    expect(await changeState(rows.changeId)).toBe(isChangeState("aborted") ? "aborted" : "running");
  });

  it("abort waits for an operation in flight, even on an asset not yet touched", async () => {
    const rows = await insertRollout(store, { assets: [{ name: "web-1", phase: 0, state: "snapshotting" }] });
    await insertOperation(store, rows, "web-1", { state: "leased" });
    expect((await abortRollout(ctx, OPS, rows.rolloutId, { reason: "stop" })).state).toBe("rolling-back");
  });

  it("retry puts a failed asset back to pending with a new attempt", async () => {
    const rows = await insertRollout(store, {
      assets: [
        { name: "web-1", phase: 0, state: "failed", startedAt: "2026-01-01T00:00:00.000Z" },
        { name: "web-2", phase: 1 },
      ],
    });
    const view = await retryAsset(ctx, OPS, rows.rolloutId, { reason: "flaky check", asset: "web-1" });
    expect(view.assets[0]).toMatchObject({ name: "web-1", state: "pending", attempt: 2, startedAt: null });
    expect(view.assets[0]?.reason).toBe("retried by alice: flaky check");
    expect(view.revision).toBe(2);
    const trail = await events(rows.rolloutId);
    expect(trail.map((e) => e.action)).toEqual(["rollout.control.retry", "rollout.asset.pending"]);
    expect(JSON.parse(trail[1]?.data ?? "{}")).toMatchObject({
      asset: "web-1",
      from: "failed",
      to: "pending",
    });
  });

  it("retry works on a reverted asset in a halted phase, by its id as well", async () => {
    const rows = await insertRollout(store, {
      state: "paused",
      stateReason: "halted: canary: health gate failed",
      phases: [{ name: "canary", state: "failed" }],
      assets: [{ name: "web-1", phase: 0, state: "reverted" }],
    });
    const view = await retryAsset(ctx, OPS, rows.rolloutId, { reason: "fixed the host", asset: "id-web-1" });
    expect(view.assets[0]).toMatchObject({ state: "pending", attempt: 2 });
  });

  it("skip leaves out a pending asset and cancels its queued operation", async () => {
    const rows = await insertRollout(store);
    const op = await insertOperation(store, rows, "web-2", { state: "queued" });
    const view = await skipAsset(ctx, OPS, rows.rolloutId, { reason: "decommissioned", asset: "web-2" });
    expect(view.assets.find((a) => a.name === "web-2")).toMatchObject({ state: "skipped" });
    expect(view.counts.skipped).toBe(1);
    const stored = await store.db
      .selectFrom("operations")
      .selectAll()
      .where("id", "=", op)
      .executeTakeFirstOrThrow();
    expect(stored.state).toBe("cancelled");
    const trail = await events(rows.rolloutId);
    expect(JSON.parse(trail[0]?.data ?? "{}")).toMatchObject({ asset: "web-2", cancelled: [op] });
  });

  it("promote marks the observing phase; the engine ends the observation", async () => {
    const rows = await insertRollout(store, {
      phases: [
        { name: "canary", state: "observing", observeUntil: "2099-01-01T00:00:00.000Z" },
        { name: "wave-1" },
      ],
      assets: [{ name: "web-1", phase: 0, state: "done" }],
    });
    const view = await promoteRollout(ctx, OPS, rows.rolloutId, { reason: "metrics look fine" });
    expect(view.phases[0]).toMatchObject({ name: "canary", state: "observing", promotedBy: "alice" });
    const err = await refusal(promoteRollout(ctx, OPS, rows.rolloutId, { reason: "again" }));
    expect(err.message).toMatch(/alice promoted canary already/);
  });

  it("stop-all sets the switch, bumps every live rollout's revision; resume-all lifts it", async () => {
    const live = await insertRollout(store);
    const done = await insertRollout(store, { state: "completed" });
    const result = await stopAll(ctx, OPS, { reason: "incident 42" });
    expect(result.stopAll).toMatchObject({ reason: "incident 42", setBy: "alice" });
    expect(result.rollouts).toContain(live.rolloutId);
    expect(result.rollouts).not.toContain(done.rolloutId);
    expect(Number((await rolloutRow(live.rolloutId)).revision)).toBe(2);
    expect(Number((await rolloutRow(done.rolloutId)).revision)).toBe(1);
    expect((await showRollout(ctx, live.rolloutId)).stopAll).toMatchObject({ setBy: "alice" });

    await expect(refusal(stopAll(ctx, OPS, { reason: "again" }))).resolves.toMatchObject({
      reason: "rollout.stop-all-active",
    });
    // While it holds, no operator resumes a rollout past it.
    const paused = await insertRollout(store, { state: "paused", pausedBy: "bob" });
    await expect(refusal(resumeRollout(ctx, OPS, paused.rolloutId, { reason: "r" }))).resolves.toMatchObject({
      reason: "rollout.illegal-transition",
    });

    await expect(resumeAll(ctx, person("admin"), { reason: "incident over" })).resolves.toMatchObject({
      stopAll: null,
    });
    await expect(refusal(resumeAll(ctx, OPS, { reason: "again" }))).resolves.toMatchObject({
      reason: "rollout.stop-all-inactive",
      status: 409,
    });
    const trail = await events("stop-all");
    expect(trail.map((e) => e.action)).toEqual(["engine.stop-all", "engine.resume-all"]);
    expect(trail[0]).toMatchObject({ reason: "incident 42" });
  });

  it("show and list read the stored state: phases with their assets and gates, assets with versions and times", async () => {
    const rows = await insertRollout(store, {
      phases: [
        { name: "canary", state: "passed" },
        { name: "wave-1", state: "running" },
        { name: "final-verification", kind: "final" },
      ],
      currentPhase: 1,
      assets: [
        {
          name: "web-1",
          phase: 0,
          state: "done",
          startedAt: "2026-03-02T10:00:01.000Z",
          finishedAt: "2026-03-02T10:00:09.000Z",
        },
        { name: "web-2", phase: 1, state: "applying", startedAt: "2026-03-02T10:01:00.000Z" },
        { name: "web-3", phase: 1 },
      ],
    });
    const gates = [
      { kind: "health", status: "pass", reason: "1 of 1 verified", evaluatedAt: "2026-03-02T10:00:10.000Z" },
    ];
    await updatePhaseRow(store, rows.rolloutId, 0, { gate_results: JSON.stringify(gates) });
    const view = await showRollout(ctx, rows.rolloutId);
    expect(view).toMatchObject({
      id: rows.rolloutId,
      changeId: rows.changeId,
      state: "running",
      currentPhase: "wave-1",
    });
    expect(view.phases.map((p) => [p.name, p.state, p.assets])).toEqual([
      ["canary", "passed", ["web-1"]],
      ["wave-1", "running", ["web-2", "web-3"]],
      ["final-verification", "pending", ["web-1"]],
    ]);
    expect(view.phases[0]?.gates).toEqual(gates);
    expect(view.assets[0]).toMatchObject({
      name: "web-1",
      state: "done",
      fromVersion: "3.0.11-1",
      toVersion: "3.0.15-1",
      startedAt: "2026-03-02T10:00:01.000Z",
      finishedAt: "2026-03-02T10:00:09.000Z",
      phase: "canary",
    });
    expect(view.counts).toMatchObject({ done: 1, applying: 1, pending: 1, failed: 0 });
    // By the change's id as well.
    expect((await showRollout(ctx, rows.changeId)).id).toBe(rows.rolloutId);

    const listed = await listRollouts(ctx, { change: rows.changeId });
    expect(listed).toEqual([
      expect.objectContaining({
        id: rows.rolloutId,
        currentPhase: "wave-1",
        assets: 3,
        counts: expect.objectContaining({ done: 1 }),
      }),
    ]);
    expect((await listRollouts(ctx, { state: "completed" })).every((r) => r.state === "completed")).toBe(
      true,
    );
    await expect(refusal(listRollouts(ctx, { state: "bogus" }))).resolves.toMatchObject({ where: "/state" });
  });

  it("incidents: list, show, close with a summary (audited), once", async () => {
    const rows = await insertRollout(store, { state: "rolled-back" });
    const id = `inc-${rows.rolloutId.slice(3)}`;
    await store.write(async (trx) => {
      await trx
        .insertInto("incidents")
        .values({
          id,
          change_id: rows.changeId,
          rollout_id: rows.rolloutId,
          title: "openssl 3.0.15-1: rolled back",
          what_failed: JSON.stringify({ outcome: "rolled-back", gate: { kind: "health" } }),
          assets: JSON.stringify([{ name: "web-1", state: "reverted" }]),
          timeline: JSON.stringify([
            { at: "2026-03-02T10:00:00.000Z", event: "rollout.started", actor: "system", detail: "" },
          ]),
          postmortem_state: "pending",
          summary: null,
          closed_by: null,
          closed_at: null,
          opened_at: new Date().toISOString(),
        })
        .execute();
    });
    expect((await listIncidents(ctx, { state: "pending" })).map((i) => i.id)).toContain(id);
    expect(await showIncident(ctx, rows.rolloutId)).toMatchObject({
      id,
      whatFailed: { outcome: "rolled-back" },
    });
    await expect(refusal(closeIncident(ctx, person("viewer"), id, "done"))).resolves.toMatchObject({
      code: "forbidden",
    });
    await expect(refusal(closeIncident(ctx, OPS, id, " "))).resolves.toMatchObject({
      reason: "incident.summary-required",
      where: "/summary",
    });
    const closed = await closeIncident(ctx, OPS, id, "bad health check in 3.0.15-1; fixed upstream");
    expect(closed.postmortem).toMatchObject({ state: "closed", closedBy: "alice" });
    await expect(refusal(closeIncident(ctx, OPS, id, "again"))).resolves.toMatchObject({
      reason: "incident.already-closed",
    });
    expect((await events(id)).map((e) => e.action)).toEqual(["incident.closed"]);
    expect((await listIncidents(ctx, { state: "pending" })).map((i) => i.id)).not.toContain(id);
  });
});
