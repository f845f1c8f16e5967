import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { CLI_PATH } from "../src/localfleet/fleet.js";
import type { Store } from "../src/store/store.js";
import { type CliResult, runCli } from "./helpers/cli.js";
import { insertRollout, updateAssetRow, updatePhaseRow, updateRolloutRow } from "./helpers/rollout-rows.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The CLI as a process whose stdout lines are seen as they come (runCli gives them only at the end). */
function follow(args: readonly string[], env: Record<string, string>) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AUTOPATCH_")));
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    const parts = stdout.split("\n");
    lines.splice(0, lines.length, ...parts.slice(0, -1));
    for (const w of waiters.filter((x) => lines.length >= x.n)) w.resolve();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return {
    lines,
    done,
    /** Resolves once `n` lines were printed. */
    lineCount: (n: number) =>
      lines.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
  };
}

describe("rollout and incident commands as processes", () => {
  let server: TestServer;
  let store: Store;
  const admin = "apt_rollout-cli-admin-token-0123456789";
  let env: Record<string, string>;
  let viewer: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer("rollout-cli", admin);
    env = server.env;
    store = server.server.ctx.store;
    const token = await createApiToken(server.server.ctx, SYSTEM_ACTOR, { name: "watcher", role: "viewer" });
    viewer = { ...env, AUTOPATCH_TOKEN: token.token };
  });
  afterAll(async () => {
    await server?.close();
  });

  it("rollout show --json prints the interface scripts rely on; change show --json names the rollout", async () => {
    const rows = await insertRollout(store, {
      phases: [
        { name: "canary", state: "passed" },
        { name: "wave-1", state: "running" },
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
    const shown = await runCli(["rollout", "show", rows.rolloutId, "--json"], env);
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as Record<string, unknown>;
    expect(view).toMatchObject({ id: rows.rolloutId, changeId: rows.changeId, state: "running" });
    expect(view.phases).toEqual([
      expect.objectContaining({ name: "canary", state: "passed", assets: ["web-1"] }),
      expect.objectContaining({ name: "wave-1", state: "running", assets: ["web-2", "web-3"] }),
    ]);
    const assets = view.assets as Array<Record<string, unknown>>;
    expect(assets.map((a) => [a.name, a.state, a.fromVersion, a.toVersion])).toEqual([
      ["web-1", "done", "3.0.11-1", "3.0.15-1"],
      ["web-2", "applying", "3.0.11-1", "3.0.15-1"],
      ["web-3", "pending", "3.0.11-1", "3.0.15-1"],
    ]);
    expect(assets[0]?.startedAt).toMatch(ISO);
    expect(assets[0]?.finishedAt).toMatch(ISO);
    expect(assets[1]?.finishedAt).toBeNull();
    expect(assets[2]?.startedAt).toBeNull();

    const change = await runCli(["change", "show", rows.changeId, "--json"], env);
    expect(change.code, change.stderr).toBe(0);
    expect(JSON.parse(change.stdout)).toMatchObject({ id: rows.changeId, rolloutId: rows.rolloutId });

    const listed = await runCli(["rollout", "list", "--change", rows.changeId, "--json"], viewer);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: rows.rolloutId, assets: 3 })]);
    const human = await runCli(["rollout", "show", rows.rolloutId], viewer);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/wave-1/);
  });

  it("pause, resume and abort take --reason as optional, and the audit log says when none was given", async () => {
    const rows = await insertRollout(store);
    const paused = await runCli(["rollout", "pause", rows.rolloutId, "--json"], env);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({
      state: "paused",
      stateReason: expect.stringContaining("no reason given"),
    });
  });

  it("controls need a reason and an operator: refused ones exit non-zero and change nothing", async () => {
    const rows = await insertRollout(store);
    const noReason = await runCli(["rollout", "pause", rows.rolloutId, "--reason", " ", "--json"], env);
    expect(noReason.code).toBe(2);
    expect(JSON.parse(noReason.stderr)).toMatchObject({
      error: { code: "validation", reason: "rollout.reason-required", where: "--reason" },
    });
    const denied = await runCli(["rollout", "pause", rows.rolloutId, "--reason", "mine", "--json"], viewer);
    expect(denied.code).toBe(5);
    expect(JSON.parse(denied.stderr)).toMatchObject({ error: { code: "forbidden" } });
    const still = await runCli(["rollout", "show", rows.rolloutId, "--json"], env);
    expect(JSON.parse(still.stdout)).toMatchObject({ state: "running", revision: 1 });

    const paused = await runCli(["rollout", "pause", rows.rolloutId, "--reason", "investigating"], env);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toBe(`${rows.rolloutId}: paused (investigating)\n`);
    const again = await runCli(["rollout", "pause", rows.rolloutId, "--reason", "twice", "--json"], env);
    expect(again.code).toBe(4);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { reason: "rollout.illegal-transition" } });
    const resumed = await runCli(
      ["rollout", "resume", rows.rolloutId, "--reason", "found it", "--json"],
      env,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: "running", pausedBy: null });

    await updateAssetRow(store, rows.rolloutId, "web-1", {
      state: "failed",
      state_reason: "health check failed",
    });
    const retried = await runCli(["rollout", "retry", rows.rolloutId, "web-1", "--reason", "flaky"], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(`${rows.rolloutId}: web-1 pending\n`);
    const skipped = await runCli(
      ["rollout", "skip", rows.rolloutId, "web-3", "--reason", "gone", "--json"],
      env,
    );
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(JSON.parse(skipped.stdout).assets).toContainEqual(
      expect.objectContaining({ name: "web-3", state: "skipped" }),
    );

    const stop = await runCli(["rollout", "stop-all", "--reason", "incident 7", "--json"], env);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopAll: { reason: "incident 7" } });
    const lift = await runCli(["rollout", "resume-all", "--reason", "over"], env);
    expect(lift.code, lift.stderr).toBe(0);
  });

  async function watchUntil(end: "completed" | "rolled-back") {
    const rows = await insertRollout(store, {
      phases: [{ name: "canary", state: "running" }],
      assets: [{ name: "web-1", phase: 0, state: "applying" }],
    });
    const watch = follow(
      ["rollout", "watch", rows.rolloutId, "--json", "--interval", "100ms", "--timeout", "60s"],
      env,
    );
    await watch.lineCount(1);
    if (end === "completed") {
      await updateAssetRow(store, rows.rolloutId, "web-1", {
        state: "done",
        finished_at: new Date().toISOString(),
      });
      await watch.lineCount(2);
      await updatePhaseRow(store, rows.rolloutId, 0, { state: "passed" });
      await updateRolloutRow(store, rows.rolloutId, {
        state: "completed",
        finished_at: new Date().toISOString(),
        current_phase: 1,
      });
    } else {
      // One write, as the engine makes it: the watcher sees both or neither.
      await store.write(async (trx) => {
        await trx
          .updateTable("rollout_assets")
          .set({ state: "failed", state_reason: "health check service failed" })
          .where("rollout_id", "=", rows.rolloutId)
          .execute();
        await trx
          .updateTable("rollouts")
          .set({ state: "rolling-back", rollback_scope: "phase", revision: 2 })
          .where("id", "=", rows.rolloutId)
          .execute();
      });
      await watch.lineCount(2);
      await updateAssetRow(store, rows.rolloutId, "web-1", {
        state: "reverted",
        finished_at: new Date().toISOString(),
      });
      await updateRolloutRow(store, rows.rolloutId, {
        state: "rolled-back",
        finished_at: new Date().toISOString(),
        time_to_rollback_ms: 1200,
      });
    }
    const result = await watch.done;
    const events = result.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            state: string;
            assets: Array<{ name: string; state: string }>;
            phases: Array<{ name: string; state: string }>;
            at: string;
          },
      );
    return { result, events };
  }

  it("watch --json prints a line per change of state and exits 0 when the rollout completes", async () => {
    const { result, events } = await watchUntil("completed");
    expect(result.code, result.stderr).toBe(0);
    expect(events[0]).toMatchObject({ state: "running", assets: [{ name: "web-1", state: "applying" }] });
    expect(events[1]).toMatchObject({ state: "running", assets: [{ name: "web-1", state: "done" }] });
    expect(events.at(-1)).toMatchObject({ state: "completed" });
    for (const e of events) expect(e.at).toMatch(ISO);
    // One line per change: never the same state twice in a row.
    const prints = events.map((e) => JSON.stringify([e.state, e.assets, e.phases]));
    expect(new Set(prints).size).toBe(prints.length);
  });

  it("watch exits 1 when the rollout ends rolled back", async () => {
    const { result, events } = await watchUntil("rolled-back");
    expect(result.code, result.stderr).toBe(1);
    expect(events.map((e) => e.state)).toContain("rolling-back");
    expect(events.at(-1)).toMatchObject({ state: "rolled-back", timeToRollbackMs: 1200 });
  });

  it("watch of an unknown rollout exits 3 at once", async () => {
    const r = await runCli(["rollout", "watch", "ro-nope", "--json"], env);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { reason: "rollout.not-found" } });
  });

  it("incident list, show and close --summary", async () => {
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
          what_failed: JSON.stringify({ outcome: "rolled-back", phase: "canary" }),
          assets: JSON.stringify([
            { name: "web-1", state: "reverted", fromVersion: "3.0.11-1", toVersion: "3.0.15-1" },
          ]),
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
    const listed = await runCli(["incident", "list", "--state", "pending", "--json"], viewer);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ id, rolloutId: rows.rolloutId }),
    );
    const shown = await runCli(["incident", "show", id], viewer);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/web-1/);
    expect(shown.stdout).toMatch(/rollout\.started/);
    const noSummary = await runCli(["incident", "close", id, "--json"], env);
    expect(noSummary.code).toBe(2);
    const closed = await runCli(["incident", "close", id, "--summary", "bad build; pipeline fixed"], env);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toBe(`${id}: post-mortem closed\n`);
    const after = await runCli(["incident", "show", id, "--json"], env);
    expect(JSON.parse(after.stdout)).toMatchObject({
      postmortem: { state: "closed", summary: "bad build; pipeline fixed" },
    });
  });
});
