import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Database } from "../src/store/schema.js";
import { openStore } from "../src/store/store.js";
import { freshStore } from "./helpers/stores.js";

/** PostgreSQL's retryable failures, provoked for real on the run's embedded PostgreSQL. */
describe("store.write on PostgreSQL under contention", () => {
  let store: Awaited<ReturnType<typeof freshStore>>;

  beforeAll(async () => {
    store = await freshStore("postgres");
    await sql`create table contended (id integer primary key, v integer not null)`.execute(store.db);
  });
  afterAll(async () => store?.dispose());

  it("two writes that lock two rows in opposite order deadlock, and both still succeed, once each", async () => {
    await sql`delete from contended`.execute(store.db);
    await sql`insert into contended (id, v) values (1, 0), (2, 0)`.execute(store.db);
    const attempts = { a: 0, b: 0 };
    // Each first attempt waits, holding its first row, until the other holds its own: a real deadlock.
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothHoldOne = new Promise<void>((resolve) => {
      release = resolve;
    });
    const bump = (trx: Kysely<Database>, id: number) =>
      sql`update contended set v = v + 1 where id = ${id}`.execute(trx);
    const writer = (name: "a" | "b", first: number, second: number) =>
      store.write(async (trx) => {
        attempts[name] += 1;
        await bump(trx, first);
        if (attempts[name] === 1) {
          arrived += 1;
          if (arrived === 2) release();
          await bothHoldOne;
        }
        await bump(trx, second);
        return name;
      });
    await expect(Promise.all([writer("a", 1, 2), writer("b", 2, 1)])).resolves.toEqual(["a", "b"]);
    // PostgreSQL aborted one of them (40P01); it ran again from the start.
    expect(attempts.a + attempts.b).toBeGreaterThanOrEqual(3);
    // Each write applied exactly once: the aborted attempt left nothing behind.
    const rows = await sql<{ id: number; v: number }>`select id, v from contended order by id`.execute(
      store.db,
    );
    expect(rows.rows).toEqual([
      { id: 1, v: 2 },
      { id: 2, v: 2 },
    ]);
  });

  it("a serializable write that loses a serialization conflict runs again and succeeds", async () => {
    await sql`delete from contended`.execute(store.db);
    await sql`insert into contended (id, v) values (1, 0)`.execute(store.db);
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    let attempts = 0;
    const writer = () =>
      store.write(async (trx) => {
        attempts += 1;
        await sql`set transaction isolation level serializable`.execute(trx);
        const row = await sql<{ v: number }>`select v from contended where id = 1`.execute(trx);
        if (attempts <= 2) {
          arrived += 1;
          if (arrived === 2) release();
          await bothRead;
        }
        await sql`update contended set v = ${(row.rows[0]?.v ?? 0) + 1} where id = 1`.execute(trx);
      });
    await Promise.all([writer(), writer()]);
    expect(attempts).toBeGreaterThanOrEqual(3);
    // Without the retry one increment would be lost or fail; with it both count.
    const rows = await sql<{ v: number }>`select v from contended where id = 1`.execute(store.db);
    expect(rows.rows[0]?.v).toBe(2);
  });
});

/**
 * A TCP front for the real PostgreSQL that answers the first `refusals` connections as a server that
 * is starting up does (an ErrorResponse with SQLSTATE `state`), then passes connections through.
 */
async function startingUpFront(
  refusals: number,
  state = "57P03",
): Promise<{ url: string; refused(): number; close(): Promise<void> }> {
  const target = new URL(inject("pgBaseUrl"));
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    if (refused < refusals) {
      refused += 1;
      client.once("data", () => client.end(errorResponse(state, "the database system is starting up")));
      return;
    }
    const upstream = netConnect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `postgres://${target.username}:${target.password}@127.0.0.1:${port}/postgres`,
    refused: () => refused,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A FATAL ErrorResponse message of the PostgreSQL wire protocol. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    ...[
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", code],
      ["M", message],
    ].map(([k, v]) => Buffer.from(`${k}${v}\0`, "utf8")),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0, "ascii");
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

describe("prepared statements on PostgreSQL when a table changes columns", () => {
  let store: Awaited<ReturnType<typeof freshStore>>;

  beforeAll(async () => {
    store = await freshStore("postgres");
    await sql`create table widened (id integer primary key)`.execute(store.db);
    await sql`insert into widened (id) values (1)`.execute(store.db);
  });
  afterAll(async () => store?.dispose());

  it("a write whose prepared select * went stale runs again and sees the new column", async () => {
    const read = (db: Kysely<Database>) => sql<Record<string, unknown>>`select * from widened`.execute(db);
    // Often enough that the pool prepares the text (pg-pool.ts), on the connection writes get.
    for (let i = 0; i < 5; i++) await store.write((trx) => read(trx));
    // Another process migrating the table, as a replica starting a newer version would.
    const other = await openStore(store.url, { migrate: false });
    try {
      await sql`alter table widened add column note text not null default 'new'`.execute(other.db);
    } finally {
      await other.close();
    }
    let attempts = 0;
    const rows = await store.write(async (trx) => {
      attempts += 1;
      return (await read(trx)).rows;
    });
    expect(rows).toEqual([{ id: 1, note: "new" }]);
    // The first attempt met PostgreSQL's "cached plan must not change result type"; the second
    // prepared the text afresh.
    expect(attempts).toBe(2);
    // Reads outside a write use the fresh statements too.
    await expect(read(store.db)).resolves.toMatchObject({ rows: [{ id: 1, note: "new" }] });
  });
});

describe("opening a PostgreSQL store that is starting up", () => {
  it("waits out cannot_connect_now (57P03) and opens", async () => {
    const front = await startingUpFront(3);
    try {
      const store = await openStore(front.url, { migrate: false });
      await expect(sql`select 1 as one`.execute(store.db)).resolves.toMatchObject({ rows: [{ one: 1 }] });
      await store.close();
      expect(front.refused()).toBe(3);
    } finally {
      await front.close();
    }
  });

  it("does not retry other connection failures", async () => {
    const front = await startingUpFront(100, "28P01");
    try {
      await expect(openStore(front.url, { migrate: false })).rejects.toMatchObject({ code: "28P01" });
      expect(front.refused()).toBe(1);
    } finally {
      await front.close();
    }
  });
});
