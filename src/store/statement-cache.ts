import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import type { SqliteDatabase as KyselySqliteDatabase } from "kysely";

/** Enough for every distinct query the server runs; savepoint names and IN-lists of odd sizes cycle out. */
export const STATEMENT_CACHE_SIZE = 1000;

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
      return stmt;
    },
  };
}
