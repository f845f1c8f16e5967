import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import type {
  Compilable,
  CompiledQuery,
  Kysely,
  SqliteDatabase as KyselySqliteDatabase,
  QueryResult,
} from "kysely";
import type { Database } from "./schema.js";

/** Enough for every distinct query the server runs; savepoint names and IN-lists of odd sizes cycle out. */
export const STATEMENT_CACHE_SIZE = 1000;

/** Runs and time of one SQL text, when AUTOPATCH_STATEMENT_TRACE is set (benchmarks read it). */
export interface StatementStats {
  runs: number;
  ms: number;
}

const TRACE: Map<string, StatementStats> | null = process.env.AUTOPATCH_STATEMENT_TRACE ? new Map() : null;

/** Every SQL text run since the start with its runs and time; empty unless tracing. */
export function statementTrace(): ReadonlyMap<string, StatementStats> {
  return TRACE ?? new Map();
}

/** Adds one run of `sql` that took `ms` to the trace, when tracing (the PostgreSQL pool times its queries). */
export function traceStatement(sql: string, ms: number): void {
  if (TRACE === null) return;
  const stats = TRACE.get(sql) ?? { runs: 0, ms: 0 };
  stats.runs += 1;
  stats.ms += ms;
  TRACE.set(sql, stats);
}

export const statementTraceOn = TRACE !== null;

/** The statement, timing every run into the trace. */
function traced(sql: string, stmt: Statement, trace: Map<string, StatementStats>): Statement {
  const timed =
    <A extends unknown[], R>(run: (...args: A) => R) =>
    (...args: A): R => {
      const start = performance.now();
      try {
        return run(...args);
      } finally {
        const stats = trace.get(sql) ?? { runs: 0, ms: 0 };
        stats.runs += 1;
        stats.ms += performance.now() - start;
        trace.set(sql, stats);
      }
    };
  return new Proxy(stmt, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if ((prop === "all" || prop === "run" || prop === "get") && typeof value === "function") {
        return timed((...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args));
      }
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The better-sqlite3 database as Kysely's SQLite dialect sees it, but preparing each distinct SQL text
 * once: Kysely prepares every query afresh, and parsing and planning the same few hundred statements
 * was the largest single cost of the engine's and the agents' requests. Least recently used texts go
 * first. Safe because Kysely runs one query at a time on its one connection, and SQLite re-prepares a
 * statement by itself when the schema changes under it.
 */
export function cachingPrepare(database: SqliteDatabase, size = STATEMENT_CACHE_SIZE): KyselySqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (stmt) {
        // Re-inserted so that the Map's order stays least recently used first.
        cache.delete(sql);
      } else {
        stmt = database.prepare(sql);
        if (cache.size >= size) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
      }
      cache.set(sql, stmt);
      return TRACE ? traced(sql, stmt, TRACE) : stmt;
    },
  };
}

/**
 * A value a prepared query takes as a bound parameter (never one it computes with). `null` only where
 * the value is written (an insert's or update's column), never compared: `= null` matches nothing.
 */
export type QueryArg = string | number | null;

/**
 * A query built and compiled once per dialect, then run with new values in its parameters' places:
 * building a Kysely query (its node tree, then its SQL) cost more than running it on SQLite, and the
 * routes every agent calls and the engine's passes run the same few shapes thousands of times. `build`
 * must pass each argument through as a bound value: it is called with placeholders, and a shape whose
 * placeholders do not each come out as exactly one parameter is built afresh on every run instead.
 * Compiled queries are kept by the dialect's adapter, which every transaction of a store shares.
 */
export function preparedQuery<A extends QueryArg[], R>(
  build: (db: Kysely<Database>, ...args: A) => Compilable<R>,
): (db: Kysely<Database>, ...args: A) => Promise<QueryResult<R>> {
  const compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: number[] } | null>();
  return async (db, ...args) => {
    const key = db.getExecutor().adapter;
    let known = compiled.get(key);
    if (known === undefined) {
      const marks = args.map((_, i) => `\u0000arg${i}\u0000`) as A;
      const query = build(db, ...marks).compile();
      const slots = query.parameters.map((p) => marks.indexOf(p as never));
      const once = marks.every((_, i) => slots.filter((s) => s === i).length === 1);
      known = once ? { query, slots } : null;
      compiled.set(key, known);
    }
    if (known === null) return db.executeQuery(build(db, ...args));
    const { query, slots } = known;
    const parameters = query.parameters.map((p, i) => {
      const slot = slots[i] as number;
      return slot < 0 ? p : args[slot];
    });
    return db.executeQuery<R>({ ...query, parameters });
  };
}
