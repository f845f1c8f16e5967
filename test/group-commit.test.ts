import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "../src/store/group-commit.js";
import type { Database } from "../src/store/schema.js";

/**
 * Group commit under failure: writes queued in the same tick share one transaction, and whatever
 * fails (a write, its savepoint, the commit, or the transaction SQLite rolled back by itself), every
 * caller gets exactly one outcome, and exactly the writes reported committed are in the database.
 */

interface Injection {
  /** Fails the next statement matching this, once. */
  match: RegExp;
  /** Roll the real transaction back first, as SQLite does itself on some I/O and disk-full errors. */
  rollBackUnderneath?: boolean;
}

/** A real SQLite database behind a wrapper that fails chosen statements. */
function failingDatabase(database: SQLite.Database, injections: Injection[]): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare: (text: string) => {
      const i = injections.findIndex((inj) => inj.match.test(text));
      const injection = injections[i];
      if (injection !== undefined) {
        injections.splice(i, 1);
        if (injection.rollBackUnderneath && database.inTransaction) database.exec("rollback");
        throw Object.assign(new Error(`injected failure of: ${text}`), { code: "SQLITE_IOERR" });
      }
      return database.prepare(text);
    },
  };
}

const SETTLE_MS = 5_000;

/** Every promise settles (or the test fails on a hang); the outcome of each, in order. */
async function outcomes(promises: Array<Promise<unknown>>): Promise<Array<"committed" | unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("a write never settled")), SETTLE_MS);
  });
  try {
    const settled = await Promise.race([Promise.allSettled(promises), hang]);
    return settled.map((s) => (s.status === "fulfilled" ? "committed" : s.reason));
  } finally {
    clearTimeout(timer);
  }
}

const aborted = expect.objectContaining({ reason: "store.write-aborted", code: "internal" });

describe("group commit under failure", () => {
  let dir: string;
  let database: SQLite.Database;
  let injections: Injection[];
  let db: Kysely<Database>;
  let group: GroupCommit;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-group-"));
    database = new SQLite(join(dir, "g.db"));
    database.pragma("journal_mode = WAL");
    database.exec("create table t (v text primary key)");
    injections = [];
    db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: failingDatabase(database, injections) }),
    });
    group = new GroupCommit(db, { inTransaction: () => database.inTransaction });
  });

  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (v: string) => async (trx: Kysely<Database>) => {
    await sql`insert into t (v) values (${v})`.execute(trx);
    return v;
  };
  const stored = () =>
    (database.prepare("select v from t order by v").all() as Array<{ v: string }>).map((r) => r.v);
  /** Five writes queued in one tick, so they share one batch; `w2` may be replaced. */
  const batch = (w2: (trx: Kysely<Database>) => Promise<unknown> = insert("w2")) =>
    outcomes([
      group.run(insert("w1")),
      group.run(w2),
      group.run(insert("w3")),
      group.run(insert("w4")),
      group.run(insert("w5")),
    ]);
  /** The store is usable afterwards: a later write commits. */
  const stillWrites = async () => {
    await expect(group.run(insert("after"))).resolves.toBe("after");
    expect(stored()).toContain("after");
    expect(database.inTransaction).toBe(false);
  };

  it("a write that throws fails alone; the rest of its batch commits", async () => {
    const boom = new Error("boom");
    const results = await batch(async (trx) => {
      await insert("w2")(trx);
      throw boom;
    });
    expect(results).toEqual(["committed", boom, "committed", "committed", "committed"]);
    expect(stored()).toEqual(["w1", "w3", "w4", "w5"]);
    await stillWrites();
  });

  it("a write that fills the disk (SQLITE_FULL) fails alone", async () => {
    const pages = Number(database.pragma("page_count", { simple: true }));
    database.pragma(`max_page_count = ${pages + 8}`);
    const results = await batch(async (trx) => {
      await sql`insert into t (v) select hex(randomblob(4000)) || n from (
        with recursive c(n) as (select 1 union all select n + 1 from c where n < 200) select n from c)`.execute(
        trx,
      );
    });
    expect(results[1]).toMatchObject({ code: "SQLITE_FULL" });
    expect(results.filter((r) => r === "committed")).toHaveLength(4);
    expect(stored()).toEqual(["w1", "w3", "w4", "w5"]);
  });

  /** Five writes whose first throws: the other four then run again, each in its own savepoint. */
  const savepointBatch = (w3: (trx: Kysely<Database>) => Promise<unknown> = insert("w3")) => {
    const first = new Error("first");
    return {
      first,
      results: outcomes([
        group.run(async (trx) => {
          await insert("w1")(trx);
          throw first;
        }),
        group.run(insert("w2")),
        group.run(w3),
        group.run(insert("w4")),
        group.run(insert("w5")),
      ]),
    };
  };

  it("writes that ran before a failing one run again and commit once", async () => {
    const { first, results } = savepointBatch();
    expect(await results).toEqual([first, "committed", "committed", "committed", "committed"]);
    expect(stored()).toEqual(["w2", "w3", "w4", "w5"]);
    await stillWrites();
  });

  it("when rolling back a failed write's savepoint fails, every write of the batch is settled and none committed", async () => {
    injections.push({ match: /^rollback to/i });
    const boom = new Error("boom");
    const { first, results } = savepointBatch(async () => {
      throw boom;
    });
    expect(await results).toEqual([first, aborted, boom, aborted, aborted]);
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("when SQLite rolled the transaction back underneath a failing write, the batch fails as a whole", async () => {
    injections.push({ match: /insert into t \(v\) values/i, rollBackUnderneath: true });
    // The first insert (w1's) is the one that fails: SQLite has rolled the transaction back with it.
    const results = await batch();
    expect(results[0]).toMatchObject({ code: "SQLITE_IOERR" });
    expect(results.slice(1)).toEqual([aborted, aborted, aborted, aborted]);
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("a write that runs ROLLBACK itself takes the writes before it down, and none after it commits alone", async () => {
    const results = await batch(async (trx) => {
      await insert("w2")(trx);
      await sql.raw("rollback").execute(trx);
    });
    expect(results[0]).toEqual(aborted);
    expect(results[1]).toBeInstanceOf(Error);
    expect(results.slice(2)).toEqual([aborted, aborted, aborted]);
    // Without the check, a later SAVEPOINT would have opened a new transaction and w3…w5 would commit.
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("when releasing a savepoint fails, that write fails and the others commit", async () => {
    injections.push({ match: /^release/i });
    const { first, results } = savepointBatch();
    const settled = await results;
    expect(settled[0]).toBe(first);
    expect(settled[1]).toMatchObject({ code: "SQLITE_IOERR" });
    expect(settled.slice(2)).toEqual(["committed", "committed", "committed"]);
    expect(stored()).toEqual(["w3", "w4", "w5"]);
  });

  it("when the commit fails, every write of the batch is rejected and none is stored", async () => {
    injections.push({ match: /^commit/i });
    const results = await batch();
    expect(results).toEqual([aborted, aborted, aborted, aborted, aborted]);
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("when the commit fails and the rollback fails too, the batch is settled and the connection freed", async () => {
    injections.push({ match: /^commit/i, rollBackUnderneath: true }, { match: /^rollback$/i });
    const results = await batch();
    expect(results).toEqual([aborted, aborted, aborted, aborted, aborted]);
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("when the transaction cannot begin, every write is rejected", async () => {
    injections.push({ match: /^begin/i });
    const results = await batch();
    expect(results.every((r) => r instanceof Error)).toBe(true);
    expect(stored()).toEqual([]);
    await stillWrites();
  });

  it("a write run alone neither waits for nor fails with the writes around it", async () => {
    const boom = new Error("boom");
    const results = await outcomes([
      group.run(insert("w1")),
      group.run(async (trx) => {
        await insert("long")(trx);
        throw boom;
      }, true),
      group.run(insert("w3")),
    ]);
    expect(results).toEqual(["committed", boom, "committed"]);
    expect(stored()).toEqual(["w1", "w3"]);
  });

  it("a write run alone whose transaction SQLite rolled back underneath is rejected, not reported committed", async () => {
    const results = await outcomes([
      group.run(async (trx) => {
        await insert("long")(trx);
        await sql.raw("rollback").execute(trx);
      }, true),
      group.run(insert("w2")),
    ]);
    expect(results).toEqual([aborted, "committed"]);
    expect(stored()).toEqual(["w2"]);
  });

  it("settles every write of many batches while failures are injected at random", async () => {
    const expected = new Set<string>();
    const writes: Array<Promise<unknown>> = [];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 300; i++) {
      const v = `r${String(i).padStart(3, "0")}`;
      const dice = random();
      if (dice < 0.05) injections.push({ match: /^rollback to/i });
      else if (dice < 0.08) injections.push({ match: /^commit/i });
      else if (dice < 0.1) injections.push({ match: /values \(\?\)/, rollBackUnderneath: true });
      const fails = random() < 0.2;
      const write = group.run(async (trx) => {
        await insert(v)(trx);
        if (fails) throw new Error(`write ${v} fails`);
        return v;
      });
      // Observed at once: later ticks run batches before outcomes() looks at them.
      write.catch(() => undefined);
      writes.push(write);
      if (random() < 0.1) await new Promise((r) => setImmediate(r));
    }
    const results = await outcomes(writes);
    results.forEach((r, i) => {
      if (r === "committed") expected.add(`r${String(i).padStart(3, "0")}`);
    });
    expect(new Set(stored())).toEqual(expected);
    injections.length = 0;
    await stillWrites();
  });
});
