import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "./helpers/embedded-postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL, without a database name: tests create their own database. */
    pgBaseUrl: string;
  }
}

/** Starts one real PostgreSQL for the whole test run; each test file creates its own database in it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgres = await startEmbeddedPostgres();
  project.provide("pgBaseUrl", postgres.baseUrl);
  return postgres.stop;
}
