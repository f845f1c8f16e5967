import { type BackoffPolicy, retry } from "../domain/backoff.js";

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
}

/**
 * PostgreSQL aborts one of two transactions that cannot both commit (serialization_failure) or that
 * wait on each other (deadlock_detected); run again from the start, the loser usually succeeds.
 */
export const TRANSACTION_RETRY_STATES: ReadonlySet<string> = new Set(["40001", "40P01"]);
/** cannot_connect_now: the server is starting up, shutting down or in recovery. */
export const CONNECT_RETRY_STATES: ReadonlySet<string> = new Set(["57P03"]);

export const TRANSACTION_RETRY: RetryPolicy = { attempts: 6, baseMs: 20, capMs: 1_000 };
/** About half a minute in all: long enough for a server to finish starting up. */
export const CONNECT_RETRY: RetryPolicy = { attempts: 12, baseMs: 250, capMs: 5_000 };

/**
 * An error that makes the store run the transaction again, as a serialization failure does: for a
 * write that finds, in one statement, that a concurrent transaction committed what it read as absent.
 */
export function serializationFailure(message: string): Error {
  return Object.assign(new Error(message), { code: "40001" });
}

/** The SQLSTATE of a PostgreSQL error (the `code` that pg sets), if any. */
export function sqlState(err: unknown): string | undefined {
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * A prepared statement whose result columns changed under it (another process altered the table, e.g.
 * a replica migrating): PostgreSQL refuses to run it. The pool then prepares afresh (pg-pool.ts), so
 * the transaction, aborted by the error, can run again from the start.
 */
export function isStalePlan(err: unknown): boolean {
  return (
    sqlState(err) === "0A000" &&
    err instanceof Error &&
    err.message.includes("cached plan must not change result type")
  );
}

/**
 * Runs `attempt` until it succeeds, fails with an error whose SQLSTATE is not in `states` (nor one
 * `also` accepts), or has had its attempts; waits a jittered, exponentially growing delay between
 * attempts so the losers of one conflict do not collide again.
 */
export async function retrying<T>(
  states: ReadonlySet<string>,
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  also: (err: unknown) => boolean = () => false,
): Promise<T> {
  return retry(attempt, {
    ...policy,
    retryable: (err) => {
      const state = sqlState(err);
      return (state !== undefined && states.has(state)) || also(err);
    },
  });
}
