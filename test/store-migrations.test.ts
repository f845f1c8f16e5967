import { type Kysely, sql } from "kysely";
import { afterEach, describe, expect, inject, it } from "vitest";
import { MIGRATIONS, type MigrationModule } from "../src/store/migrations/index.js";
import { migrateToLatest, openStore, type Store } from "../src/store/store.js";
import { DIALECTS, freshStore } from "./helpers/stores.js";

/** A newer build's migration list: this build's plus one more. */
function newerBuild(name: string, breaking: boolean): Record<string, MigrationModule> {
  const extra: MigrationModule = {
    breaking,
    up: async (db: Kysely<unknown>) => {
      await db.schema
        .createTable(`t_${name.replaceAll("-", "_")}`)
        .addColumn("x", "text")
        .execute();
    },
  };
  return { ...MIGRATIONS, [name]: extra };
}

/** The URL that opens the same database again (as another replica would). */
async function urlOf(store: Store): Promise<string> {
  if (store.dialect === "sqlite") return store.displayUrl;
  const row = await sql<{ db: string }>`select current_database() as db`.execute(store.db);
  return `${inject("pgBaseUrl")}/${row.rows[0]?.db}`;
}

// A rolling upgrade: replicas of the older build keep running on a store the newer build migrated.
describe.each(DIALECTS)("a store migrated by a newer autopatch, on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>> | undefined;
  afterEach(async () => {
    await store?.dispose();
    store = undefined;
  });

  it("records whether each applied migration is breaking", async () => {
    store = await freshStore(dialect);
    const rows = await store.db.selectFrom("schema_meta").select(["migration", "breaking"]).execute();
    expect(rows.map((r) => r.migration).sort()).toEqual(Object.keys(MIGRATIONS).sort());
    for (const r of rows)
      expect([r.migration, Number(r.breaking)]).toEqual([
        r.migration,
        MIGRATIONS[r.migration]?.breaking ? 1 : 0,
      ]);
  });

  it("opens when the newer migrations are additive", async () => {
    store = await freshStore(dialect);
    const report = await migrateToLatest(store, newerBuild("9990-newer-additive", false));
    expect(report.applied).toEqual(["9990-newer-additive"]);
    // This build opens it, migrates nothing, and says what it found.
    expect(await migrateToLatest(store)).toEqual({
      applied: [],
      current: Object.keys(MIGRATIONS).at(-1),
      newer: ["9990-newer-additive"],
    });
    const replica = await openStore(await urlOf(store));
    await replica.close();
  });

  it("is refused when a newer migration is breaking", async () => {
    store = await freshStore(dialect);
    await migrateToLatest(store, newerBuild("9991-newer-breaking", true));
    const refusal = { code: "conflict", reason: "store.newer-schema" };
    await expect(migrateToLatest(store)).rejects.toMatchObject(refusal);
    await expect(openStore(await urlOf(store))).rejects.toMatchObject(refusal);
  });

  it("is refused when a newer migration is applied but not recorded", async () => {
    store = await freshStore(dialect);
    await sql`insert into kysely_migration (name, timestamp) values ('9992-unrecorded', '2030-01-01')`.execute(
      store.db,
    );
    await expect(migrateToLatest(store)).rejects.toMatchObject({ reason: "store.newer-schema" });
  });
});
