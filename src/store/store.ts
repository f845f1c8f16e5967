import { resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { type Logger, pino } from "pino";
import { ValidationError } from "../domain/errors.js";
import { capabilitiesFor, type DialectName, type StoreCapabilities } from "./capabilities.js";
import { GroupCommit } from "./group-commit.js";
import { migrateToLatest } from "./migrate.js";
import { watchConnections } from "./pg-connection-loss.js";
import { kyselyPool } from "./pg-pool.js";
import {
  CONNECT_RETRY,
  CONNECT_RETRY_STATES,
  isStalePlan,
  retrying,
  TRANSACTION_RETRY,
  TRANSACTION_RETRY_STATES,
} from "./retry.js";
import type { Database } from "./schema.js";
import { cachingPrepare } from "./statement-cache.js";

export type { DialectName, StoreCapabilities } from "./capabilities.js";
export { type MigrationReport, migrateToLatest } from "./migrate.js";

export interface WriteOptions {
  /**
   * A long write (a full re-match): on SQLite it commits in a transaction of its own instead of
   * sharing one with the writes queued around it, which then neither wait for it nor share its fate.
   */
  alone?: boolean;
}

/** The database and what differs between dialects. Only the service layer writes through it. */
export interface Store {
  readonly db: Kysely<Database>;
  /** Which database, for messages and tests: code asks `capabilities` instead. */
  readonly dialect: DialectName;
  readonly capabilities: StoreCapabilities;
  /** The URL with any password masked, for logs and messages. */
  readonly displayUrl: string;
  /**
   * The one write path: runs `work` in a transaction and returns its result once committed. On SQLite
   * concurrent writes share one commit (see GroupCommit); PostgreSQL commits concurrent transactions
   * in parallel, so each gets its own, and one that loses a serialization conflict or a deadlock
   * (40001, 40P01) runs again from the start: `work` must not act outside the transaction.
   */
  write<T>(work: (trx: Kysely<Database>) => Promise<T>, options?: WriteOptions): Promise<T>;
  close(): Promise<void>;
}

export const DEFAULT_DATABASE_URL = "sqlite:./autopatch.db";

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Where a lost PostgreSQL connection is told (default: warnings to stderr). */
  logger?: Logger;
}

/** Opens `sqlite:<path>` (`sqlite::memory:` for a throwaway store) or `postgres://…`. */
export async function openStore(
  url: string = DEFAULT_DATABASE_URL,
  options: OpenOptions = {},
): Promise<Store> {
  const store = url.startsWith("sqlite:")
    ? openSqlite(url.slice("sqlite:".length))
    : /^postgres(ql)?:\/\//.test(url)
      ? openPostgres(url, options.logger ?? pino({ level: "warn" }, pino.destination(2)))
      : null;
  if (!store) {
    throw new ValidationError(
      `unsupported database URL "${maskUrl(url)}": use sqlite:<path> or postgres://…`,
      {
        where: "AUTOPATCH_DATABASE_URL",
      },
    );
  }
  try {
    // A PostgreSQL that is starting up or in recovery refuses connections for a while (57P03).
    await retrying(CONNECT_RETRY_STATES, CONNECT_RETRY, () => sql`select 1`.execute(store.db));
    if (options.migrate !== false) await migrateToLatest(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

function openSqlite(path: string): Store {
  const file = path === ":memory:" ? ":memory:" : resolve(path);
  const database = new SQLite(file);
  database.pragma("journal_mode = WAL");
  database.pragma("foreign_keys = ON");
  // WAL makes NORMAL durable against application crashes; only a power loss can drop the last commits.
  database.pragma("synchronous = NORMAL");
  database.pragma("busy_timeout = 5000");
  // A 256 MiB page cache and rarer checkpoints: fleet-wide inventory writes revisit the same index
  // pages, and a checkpoint after every few commits would write them to the main file again and again.
  database.pragma("cache_size = -262144");
  database.pragma("wal_autocheckpoint = 20000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingPrepare(database) }) });
  const group = new GroupCommit(db, { inTransaction: () => database.inTransaction });
  return {
    db,
    dialect: "sqlite",
    capabilities: capabilitiesFor("sqlite"),
    displayUrl: `sqlite:${path}`,
    write: (work, options) => group.run(work, options?.alone === true),
    close: () => db.destroy(),
  };
}

function openPostgres(url: string, logger: Logger): Store {
  // Idle connections stay open: the pool hands out the most recently released one first, so a burst
  // of writes one or two above the usual concurrency left the others idle past pg's 10 s default, and
  // each was opened again a moment later (a fork, the password exchange, cold catalog caches, every
  // statement prepared again). An idle connection does not keep the process alive.
  const pool = new pg.Pool({ connectionString: url, max: 10, idleTimeoutMillis: 0, allowExitOnIdle: true });
  // A connection the server drops, idle or checked out, must not take the process down.
  const watch = watchConnections(pool, logger, maskUrl(url));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool(pool, watch) }) });
  return {
    db,
    dialect: "postgres",
    capabilities: capabilitiesFor("postgres"),
    displayUrl: maskUrl(url),
    write: (work) =>
      retrying(
        TRANSACTION_RETRY_STATES,
        TRANSACTION_RETRY,
        () => db.transaction().execute(work),
        isStalePlan,
      ),
    close: () => db.destroy(),
  };
}

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, "//$1:***@");
}
