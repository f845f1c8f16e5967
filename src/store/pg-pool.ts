import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import { statementTraceOn, traceStatement } from "./statement-cache.js";

/**
 * The pg pool as Kysely's PostgreSQL dialect sees it. With AUTOPATCH_STATEMENT_TRACE set, each query's
 * round trip (sent to result read) is timed into the statement trace, as SQLite's statements are, so
 * the benchmarks can say where a request's database time goes on either database.
 */
export function kyselyPool(pool: pg.Pool): PostgresPool {
  if (!statementTraceOn) return pool as unknown as PostgresPool;
  return {
    end: () => pool.end(),
    connect: async () => {
      const client = await pool.connect();
      const traced: PostgresPoolClient = {
        release: () => client.release(),
        query: ((text: unknown, values?: ReadonlyArray<unknown>) => {
          if (typeof text !== "string") return client.query(text as never);
          const start = performance.now();
          return client.query(text, values as unknown[]).finally(() => {
            traceStatement(text, performance.now() - start);
          });
        }) as unknown as PostgresPoolClient["query"],
      };
      return traced;
    },
  };
}
