import { createHash } from "node:crypto";
import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import type { ConnectionWatch } from "./pg-connection-loss.js";
import { isStalePlan } from "./retry.js";
import { statementTraceOn, traceStatement } from "./statement-cache.js";

/** A text run this often in the process is worth preparing on each connection it runs on. */
const PREPARE_AFTER = 3;
/** Prepared statements per connection, at most: texts with IN-lists of every length must not pile up. */
const PREPARED_PER_CONNECTION = 300;
/** Longer texts are rare and one-off (bulk imports): never prepared. */
const PREPARED_MAX_LENGTH = 4000;
/** Texts counted towards PREPARE_AFTER; the count starts over when it is full. */
const COUNTED_MAX = 5000;

const runs = new Map<string, number>();
const prepared = new WeakMap<pg.PoolClient, { generation: number; names: Set<string> }>();
/**
 * Moves when a prepared statement went stale (a table's columns changed under it, see isStalePlan):
 * every connection then prepares its texts again under new names, and never runs the old ones.
 */
let generation = 0;

/** The name of a text's prepared statement: the same on every connection, distinct per text. */
function statementName(text: string): string {
  return `k${generation}_${createHash("sha1").update(text).digest("base64url")}`;
}

/**
 * Whether to run `text` as a named (prepared) statement on `client`. pg sends a named statement's
 * text once per connection and then only binds: the server skips parsing and, after a few runs,
 * planning. Only texts that repeat qualify, and only so many per connection.
 */
function preparedName(client: pg.PoolClient, text: string): string | undefined {
  if (text.length > PREPARED_MAX_LENGTH) return undefined;
  let entry = prepared.get(client);
  if (entry === undefined || entry.generation !== generation) {
    // The stale statements stay on the connection, unused; a table changes columns rarely.
    entry = { generation, names: new Set() };
    prepared.set(client, entry);
  }
  const names = entry.names;
  const name = statementName(text);
  if (names.has(name)) return name;
  const seen = (runs.get(text) ?? 0) + 1;
  if (runs.size >= COUNTED_MAX) runs.clear();
  runs.set(text, seen);
  if (seen < PREPARE_AFTER || names.size >= PREPARED_PER_CONNECTION) return undefined;
  names.add(name);
  return name;
}

/**
 * The pg pool as Kysely's PostgreSQL dialect sees it: statements the server runs again and again are
 * prepared once per connection (see preparedName). With AUTOPATCH_STATEMENT_TRACE set, each query's
 * round trip (sent to result read) is timed into the statement trace, as SQLite's statements are.
 * A connection the server ended (see ConnectionWatch) fails its statements and goes back as broken.
 */
export function kyselyPool(pool: pg.Pool, watch: ConnectionWatch): PostgresPool {
  return {
    end: () => pool.end(),
    connect: async () => {
      const client = await pool.connect();
      const wrapped: PostgresPoolClient = {
        release: () => client.release(watch.lost(client)),
        query: ((text: unknown, values?: ReadonlyArray<unknown>) => {
          const lost = watch.lost(client);
          if (lost !== undefined) return Promise.reject(lost);
          // A cursor (Kysely's streaming) passes through as it is.
          if (typeof text !== "string") return client.query(text as never);
          const config: pg.QueryConfig = { text, values: values as unknown[] };
          const name = preparedName(client, text);
          if (name !== undefined) config.name = name;
          const run = (
            name === undefined ? client.query(config) : client.query(config).catch(staleGoesAgain)
          ).catch((err: unknown) => {
            throw watch.failed(client, err);
          });
          if (!statementTraceOn) return run;
          const start = performance.now();
          return run.finally(() => {
            traceStatement(text, performance.now() - start);
          });
        }) as unknown as PostgresPoolClient["query"],
      };
      return wrapped;
    },
  };
}

/** A stale prepared statement: the next statements are prepared afresh; the error goes on (a write retries). */
function staleGoesAgain(err: unknown): never {
  if (isStalePlan(err)) generation += 1;
  throw err;
}
