import { resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { AppError, ValidationError } from "../domain/errors.js";
import { GroupCommit } from "./group-commit.js";
import { MIGRATIONS } from "./migrations/index.js";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

/** The database and what differs between dialects. Only the service layer writes through it. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** The URL with any password masked, for logs and messages. */
  readonly displayUrl: string;
  /**
   * Runs a write in a transaction. On SQLite concurrent writes share one commit (see GroupCommit);
   * PostgreSQL commits concurrent transactions in parallel, so each gets its own.
   */
  write<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const DEFAULT_DATABASE_URL = "sqlite:./autopatch.db";

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
}

/** Opens `sqlite:<path>` (`sqlite::memory:` for a throwaway store) or `postgres://…`. */
export async function openStore(
  url: string = DEFAULT_DATABASE_URL,
  options: OpenOptions = {},
): Promise<Store> {
  const store = url.startsWith("sqlite:")
    ? openSqlite(url.slice("sqlite:".length))
    : /^postgres(ql)?:\/\//.test(url)
      ? openPostgres(url)
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
    await sql`select 1`.execute(store.db);
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const group = new GroupCommit(db);
  return {
    db,
    dialect: "sqlite",
    displayUrl: `sqlite:${path}`,
    write: (work) => group.run(work),
    close: () => db.destroy(),
  };
}

function openPostgres(url: string): Store {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection that the server drops emits "error" on the pool; without a listener the
  // process would die. The next query gets a fresh connection.
  pool.on("error", () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: "postgres",
    displayUrl: maskUrl(url),
    write: (work) => db.transaction().execute(work),
    close: () => db.destroy(),
  };
}

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, "//$1:***@");
}

export interface MigrationReport {
  applied: string[];
  current: string | null;
}

/** Applies pending migrations; refuses a database that a newer autopatch has migrated. */
export async function migrateToLatest(store: Store): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => MIGRATIONS },
  });
  const known = new Set(Object.keys(MIGRATIONS));
  const executed = (await migrator.getMigrations()).filter((m) => m.executedAt !== undefined);
  const unknown = await appliedMigrationNames(store);
  const newer = unknown.filter((name) => !known.has(name));
  if (newer.length > 0) {
    throw new AppError(
      "conflict",
      `the database was migrated by a newer autopatch (unknown migrations: ${newer.join(", ")}); upgrade autopatch`,
      { where: store.displayUrl, reason: "store.newer-schema" },
    );
  }
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new AppError(
      "internal",
      `migration failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  const applied = (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  const all = [...executed.map((m) => m.name), ...applied];
  return { applied, current: all.at(-1) ?? null };
}

async function appliedMigrationNames(store: Store): Promise<string[]> {
  const tables = await store.db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === "kysely_migration")) return [];
  const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
  return rows.rows.map((r) => r.name);
}

/** The dialect behind a Kysely instance or transaction. */
export function dialectOf(db: Kysely<Database>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}
