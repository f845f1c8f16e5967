import { type Kysely, PostgresAdapter } from "kysely";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

/**
 * What the database behind a store can do. Code outside the store asks these (or uses the helpers in
 * sql-helpers.ts), never which database it is, so a difference is named where it matters.
 */
export interface StoreCapabilities {
  /** `SELECT … FOR UPDATE` locks rows until the transaction ends; without it there is one writer at a time. */
  readonly rowLocks: boolean;
  /** `FOR UPDATE SKIP LOCKED`: concurrent claimers take different rows instead of queueing behind one another. */
  readonly skipLocked: boolean;
  /** Named locks held until the transaction ends. */
  readonly advisoryLocks: boolean;
  /** Several transactions write at once; without it writes are serialised (and group-committed). */
  readonly concurrentWriters: boolean;
  /** Parameters in raw statements: `$1` numbered, or `?` positional (each use binds its own value). */
  readonly placeholders: "numbered" | "positional";
  /** A bare parameter (in a VALUES list, or selected) needs a cast to its type, or it is read as text. */
  readonly typedParameters: boolean;
  /** `table NOT INDEXED` makes the planner scan the table in order instead of walking an index. */
  readonly notIndexedHint: boolean;
  /** `SELECT DISTINCT ON (…)`. */
  readonly distinctOn: boolean;
  /** Tables have an integer `rowid` usable in expressions. */
  readonly rowid: boolean;
  /** Temporary tables live in a schema named `temp` (so they cannot meet a real table when qualified). */
  readonly tempSchema: boolean;
  /** `CREATE TEMPORARY TABLE … ON COMMIT DROP`. */
  readonly tempOnCommitDrop: boolean;
  /** `WITHOUT ROWID` tables (clustered on their primary key). */
  readonly withoutRowid: boolean;
  /** The planner needs `ANALYZE` on a freshly filled temporary table to estimate its size. */
  readonly analyzeTemporary: boolean;
}

const SQLITE: StoreCapabilities = {
  rowLocks: false,
  skipLocked: false,
  advisoryLocks: false,
  concurrentWriters: false,
  placeholders: "positional",
  typedParameters: false,
  notIndexedHint: true,
  distinctOn: false,
  rowid: true,
  tempSchema: true,
  tempOnCommitDrop: false,
  withoutRowid: true,
  analyzeTemporary: false,
};

const POSTGRES: StoreCapabilities = {
  rowLocks: true,
  skipLocked: true,
  advisoryLocks: true,
  concurrentWriters: true,
  placeholders: "numbered",
  typedParameters: true,
  notIndexedHint: false,
  distinctOn: true,
  rowid: false,
  tempSchema: false,
  tempOnCommitDrop: true,
  withoutRowid: false,
  analyzeTemporary: true,
};

export function capabilitiesFor(dialect: DialectName): StoreCapabilities {
  return dialect === "postgres" ? POSTGRES : SQLITE;
}

/** The dialect behind a Kysely instance or transaction (for the store's own use). */
export function dialectOf(db: Kysely<Database>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/** The capabilities of the database behind a Kysely instance or transaction. */
export function capabilitiesOf(db: Kysely<Database>): StoreCapabilities {
  return capabilitiesFor(dialectOf(db));
}
