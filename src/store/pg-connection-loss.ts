import type pg from "pg";
import type { Logger } from "pino";

/**
 * Connections the PostgreSQL server ended under the pool (a restart, pg_terminate_backend, a network
 * cut). pg emits "error" on such a client; pg-pool listens only while the client is idle, and a
 * client checked out with no listener would take the process down. Every client gets a listener
 * here for its whole life: the loss is logged once, the statements still sent on it fail with an
 * error that says so, and its release hands it back as broken, so the pool opens a new one.
 */
export interface ConnectionWatch {
  /** Why `client` can no longer be used, or undefined while it can. */
  lost(client: pg.PoolClient): Error | undefined;
  /** `err` as a statement on `client` should see it: a connection-level failure marks the client lost. */
  failed(client: pg.PoolClient, err: unknown): unknown;
}

/** SQLSTATE classes of a connection that is gone: 08 (connection exception), 57P0x (server shutting down, crashed). */
const CONNECTION_GONE = /^(08|57P0[1-3])/;

export function watchConnections(pool: pg.Pool, logger: Logger, database: string): ConnectionWatch {
  const gone = new WeakMap<pg.Client, Error>();
  const markLost = (client: pg.Client, err: Error): Error => {
    const known = gone.get(client);
    if (known !== undefined) return known;
    const code = (err as { code?: unknown }).code;
    const lost = new Error(`the PostgreSQL connection was lost: ${err.message}`, { cause: err });
    if (typeof code === "string") Object.assign(lost, { code });
    gone.set(client, lost);
    // The URL is masked and the server's message carries no credentials; the stack says nothing useful.
    logger.warn(
      { database, ...(typeof code === "string" ? { code } : {}), reason: err.message },
      "PostgreSQL connection lost; the pool replaces it",
    );
    return lost;
  };
  pool.on("connect", (client) => {
    client.on("error", (err) => {
      markLost(client, err);
    });
  });
  // pg-pool re-emits an idle client's error on the pool; the client's own listener has logged it.
  pool.on("error", () => undefined);
  return {
    lost: (client) => gone.get(client),
    failed: (client, err) => {
      if (!(err instanceof Error)) return err;
      const code = (err as { code?: unknown }).code;
      const connectionLevel =
        (typeof code === "string" && CONNECTION_GONE.test(code)) ||
        (err as { severity?: unknown }).severity === "FATAL" ||
        /^Connection terminated|not queryable/.test(err.message);
      return connectionLevel ? markLost(client, err) : err;
    },
  };
}
