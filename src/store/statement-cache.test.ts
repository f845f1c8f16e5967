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
