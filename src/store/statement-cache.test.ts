import SQLite from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { cachingPrepare } from "./statement-cache.js";

describe("cachingPrepare", () => {
  it("prepares each SQL text once, keeps at most `size`, and drops the least recently used", () => {
    const database = new SQLite(":memory:");
    const prepared: string[] = [];
    const original = database.prepare.bind(database);
    database.prepare = ((sql: string) => {
      prepared.push(sql);
      return original(sql);
    }) as typeof database.prepare;
    const db = cachingPrepare(database, 2);
    db.prepare("CREATE TABLE t (x INTEGER)").run([]);
    const insert = "INSERT INTO t (x) VALUES (?)";
    const count = "SELECT count(*) AS n FROM t";
    db.prepare(insert).run([1]);
    db.prepare(insert).run([2]);
    expect(db.prepare(count).all([])).toEqual([{ n: 2 }]);
    expect(prepared.filter((s) => s === insert)).toHaveLength(1);
    // insert was used before count: a third text drops insert, keeps count.
    db.prepare("SELECT 1");
    db.prepare(count);
    db.prepare(insert);
    expect(prepared.filter((s) => s === insert)).toHaveLength(2);
    expect(prepared.filter((s) => s === count)).toHaveLength(1);
    db.close();
    expect(database.open).toBe(false);
  });

  it("a cached statement still works after the schema changed under it", () => {
    const database = new SQLite(":memory:");
    const db = cachingPrepare(database);
    db.prepare("CREATE TABLE t (x INTEGER)").run([]);
    db.prepare("INSERT INTO t (x) VALUES (?)").run([1]);
    const select = "SELECT * FROM t";
    expect(db.prepare(select).all([])).toEqual([{ x: 1 }]);
    db.prepare("ALTER TABLE t ADD COLUMN y INTEGER DEFAULT 7").run([]);
    expect(db.prepare(select).all([])).toEqual([{ x: 1, y: 7 }]);
    db.close();
  });
});

describe("preparedQuery", () => {
  it("compiles a shape once and binds each run's own values in their places", async () => {
    const { Kysely, SqliteDialect } = await import("kysely");
    const { preparedQuery } = await import("./statement-cache.js");
    type Db = import("kysely").Kysely<import("./schema.js").Database>;
    const database = new SQLite(":memory:");
    const db = new Kysely({
      dialect: new SqliteDialect({ database: cachingPrepare(database) }),
    }) as unknown as Db;
    database.exec(
      "CREATE TABLE engine_switches (name TEXT PRIMARY KEY, reason TEXT, set_by TEXT, set_at TEXT)",
    );
    database.exec("INSERT INTO engine_switches VALUES ('a', 'one', 'x', 't1'), ('b', 'two', 'y', 't2')");
    let built = 0;
    const byName = preparedQuery((q, name: string, setBy: string) => {
      built += 1;
      // A constant of the shape stays bound as it was built.
      return q
        .selectFrom("engine_switches")
        .select(["reason"])
        .where("name", "=", name)
        .where("set_by", "=", setBy)
        .where("set_at", "!=", "never");
    });
    expect((await byName(db, "a", "x")).rows).toEqual([{ reason: "one" }]);
    expect((await byName(db, "b", "y")).rows).toEqual([{ reason: "two" }]);
    expect((await byName(db, "b", "x")).rows).toEqual([]);
    expect(built).toBe(1);
    // An argument used twice cannot be placed by position: the shape is built on every run instead.
    const twice = preparedQuery((q, name: string) =>
      q.selectFrom("engine_switches").select(["reason"]).where("name", "=", name).where("reason", "!=", name),
    );
    expect((await twice(db, "a")).rows).toEqual([{ reason: "one" }]);
    expect((await twice(db, "b")).rows).toEqual([{ reason: "two" }]);
    await db.destroy();
  });
});
