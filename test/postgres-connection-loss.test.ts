import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startServer } from "../src/server/start.js";
import type { Database } from "../src/store/schema.js";
import { openStore, type Store } from "../src/store/store.js";
import { type FreshDatabase, freshDatabase } from "./helpers/database-url.js";

/** A pino logger whose lines are kept, parsed, for the test to read. */
function keptLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

function lossLines(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => typeof l.msg === "string" && /PostgreSQL connection lost/.test(l.msg));
}

/** Waits until `done` holds, checking as the event loop turns, for 15 s at most. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("gave up waiting");
    await sleep(10);
  }
}

async function backendPid(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
  const pid = rows[0]?.pid;
  if (pid === undefined) throw new Error("no backend pid");
  return pid;
}

describe("a PostgreSQL connection the server drops", () => {
  let database: FreshDatabase;
  let admin: pg.Client;

  beforeEach(async () => {
    database = await freshDatabase("postgres");
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });

  afterEach(async () => {
    await admin.end();
    await database.dispose();
  });

  async function terminate(pid: number): Promise<void> {
    const { rows } = await admin.query<{ ok: boolean }>("select pg_terminate_backend($1) as ok", [pid]);
    expect(rows[0]?.ok).toBe(true);
  }

  /** Ends every connection to the test's database but the admin's own. */
  async function terminateAllBut(): Promise<number> {
    const { rows } = await admin.query<{ ok: boolean }>(
      "select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
    );
    return rows.length;
  }

  describe("on a store", () => {
    let store: Store;
    let kept: ReturnType<typeof keptLogger>;

    beforeEach(async () => {
      kept = keptLogger();
      store = await openStore(database.url, { logger: kept.logger });
    });

    afterEach(async () => {
      await store.close();
    });

    it("fails the transaction that holds it with a clear error, logs it without the password, and the next work gets a new connection", async () => {
      let lostPid = 0;
      const outcome = store
        .write(async (trx) => {
          lostPid = await backendPid(trx);
          await terminate(lostPid);
          // The connection is checked out and idle between statements when the server ends it.
          await until(() => lossLines(kept.lines).length > 0);
          await sql`select 1`.execute(trx);
          return "committed";
        })
        .then(
          (v) => ({ ok: true as const, v }),
          (err: unknown) => ({ ok: false as const, err }),
        );
      const result = await outcome;
      expect(result.ok).toBe(false);
      const err = result.ok ? undefined : (result.err as Error);
      expect(err?.message).toMatch(/PostgreSQL connection was lost/);

      const [line] = lossLines(kept.lines);
      expect(line?.level).toBe(40);
      expect(JSON.stringify(kept.lines)).not.toContain(":postgres@");
      expect(String(line?.database)).toContain(":***@");

      // The pool replaced the dead connection: the store answers, on a different backend.
      const pid = await backendPid(store.db);
      expect(pid).not.toBe(lostPid);
      expect(await store.write(async (trx) => (await backendPid(trx)) !== lostPid)).toBe(true);
    });

    it("fails a query in flight when its connection is ended under it, and the store goes on", async () => {
      const running = sql`select pg_sleep(30)`.execute(store.db).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      // Waits until the sleep runs on a backend of the store, then ends that backend.
      let pid: number | undefined;
      while (pid === undefined) {
        const { rows } = await admin.query<{ pid: number }>(
          "select pid from pg_stat_activity where datname = current_database() and query like 'select pg_sleep%'",
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await sleep(10);
      }
      await terminate(pid);
      const err = await running;
      expect(err).toBeInstanceOf(Error);
      expect(err?.message).toMatch(/PostgreSQL connection was lost: terminating connection/);
      await until(() => lossLines(kept.lines).length > 0);
      expect(await backendPid(store.db)).not.toBe(pid);
    });

    it("drops an idle pooled connection the server ends, and logs it", async () => {
      const pid = await backendPid(store.db);
      await terminate(pid);
      await until(() => lossLines(kept.lines).length > 0);
      expect(await backendPid(store.db)).not.toBe(pid);
    });
  });

  it("leaves the server serving after every one of its connections is ended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-pg-loss-"));
    const kept = keptLogger();
    const server = await startServer({
      databaseUrl: database.url,
      listen: "127.0.0.1:0",
      adminToken: "ap_connection_loss_admin_token_0123456789",
      audit: { keyFile: join(dir, "audit.key"), checkpointLog: join(dir, "checkpoints.jsonl") },
      logger: kept.logger,
    });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // Holds a connection checked out in a transaction while the server ends them all.
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered = () => {};
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const held = server.ctx.store
        .write(async (trx) => {
          await sql`select 1`.execute(trx);
          entered();
          await gate;
          await sql`select 1`.execute(trx);
        })
        .then(
          () => undefined,
          (err: unknown) => err as Error,
        );
      await inside;
      expect(await terminateAllBut()).toBeGreaterThan(0);
      await until(() => lossLines(kept.lines).length > 0);
      release();
      expect((await held)?.message).toMatch(/PostgreSQL connection was lost/);
      // The pool connects afresh; readiness answers from the database again within moments (an idle
      // connection whose end the client has not read yet may still fail one check).
      const deadline = Date.now() + 5_000;
      let ready = (await fetch(`${server.url}/readyz`)).status;
      while (ready !== 200 && Date.now() < deadline) {
        await sleep(50);
        ready = (await fetch(`${server.url}/readyz`)).status;
      }
      expect(ready).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
