import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/server/start.js";
import { scheduledChange } from "./helpers/engine.js";

describe("the server runs the rollout loops", () => {
  let server: RunningServer | null = null;
  let dir = "";
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a due change and dispatches its canary's operation, and stops cleanly", async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-engine-"));
    server = await startServer({
      databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
      listen: "127.0.0.1:0",
      adminToken: "apt_engine_test_token_0123456789",
      config: { enginePassMs: 100 },
      logger: pino({ level: "silent" }),
    });
    const fleet = await scheduledChange(
      server.ctx.store,
      { targets: [{ name: "h1" }, { name: "h2" }], phases: [{ assets: ["h1"] }, { assets: ["h2"] }] },
      { start: new Date().toISOString() },
    );
    let ops: Array<{ executor: string; action: string; state: string }> = [];
    for (let i = 0; i < 100 && ops.length === 0; i++) {
      await sleep(50);
      ops = await server.ctx.store.db
        .selectFrom("operations")
        .select(["executor", "action", "state"])
        .execute();
    }
    expect(ops).toEqual([{ executor: "agent", action: "patch", state: "queued" }]);
    const change = await server.ctx.store.db
      .selectFrom("change_requests")
      .select(["state", "rollout_id"])
      .where("id", "=", fleet.changeId)
      .executeTakeFirstOrThrow();
    expect(change).toMatchObject({ state: "running", rollout_id: `ro-${fleet.changeId.slice(4)}` });
    await server.close();
    server = null;
  });
});
