import { type Kysely, sql } from "kysely";
import { afterEach } from "vitest";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import type { Database } from "../../src/store/schema.js";
import { type DialectName, migrateToLatest } from "../../src/store/store.js";
import { freshStore, type TestStore } from "./stores.js";

/**
 * Stores as the release before migration `first` left them: each `open()` is a fresh store migrated
 * up to just before `first`, disposed after the test that opened it.
 */
export function storesBefore(dialect: DialectName, first: string): { open(): Promise<TestStore> } {
  const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < first));
  const opened: TestStore[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.dispose();
  });
  return {
    async open() {
      const store = await freshStore(dialect, { migrate: false });
      opened.push(store);
      await migrateToLatest(store, before);
      return store;
    },
  };
}

/** The two hosts the migration tests start from. */
export const WEB_HOSTS = [
  ["a1", "web-1"],
  ["a2", "web-2"],
] as const;

/** Hosts in prod/web/eu, written with the asset columns every release's schema has. */
export async function insertOldHosts(
  db: Kysely<Database>,
  hosts: ReadonlyArray<readonly [id: string, name: string]>,
  at: string,
): Promise<void> {
  for (const [id, name] of hosts) {
    await sql`insert into assets (id, name, kind, environment, group_name, region, owner, criticality, labels, agent_status, created_at, updated_at)
      values (${id}, ${name}, 'host', 'prod', 'web', 'eu', 'ops', 3, '{}', 'active', ${at}, ${at})`.execute(
      db,
    );
  }
}
