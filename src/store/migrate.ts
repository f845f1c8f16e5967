import { Migrator, sql } from "kysely";
import { AppError } from "../domain/errors.js";
import { MIGRATIONS, type MigrationModule } from "./migrations/index.js";
import type { Store } from "./store.js";

export interface MigrationReport {
  applied: string[];
  current: string | null;
  /** Additive migrations of a newer autopatch found applied (the store is used as it is). */
  newer: string[];
}

const META_TABLE = "schema_meta";

/**
 * Applies pending migrations. A store that a newer autopatch migrated further is used as it is when
 * every migration unknown here is recorded as additive, so replicas of both versions run side by side
 * during a rolling upgrade; it is refused (`store.newer-schema`) when any is breaking or unrecorded.
 * `migrations` are this build's (tests pose as another build with their own).
 */
export async function migrateToLatest(
  store: Store,
  migrations: Readonly<Record<string, MigrationModule>> = MIGRATIONS,
): Promise<MigrationReport> {
  const known = Object.keys(migrations);
  const applied = await appliedMigrationNames(store);
  const newer = applied.filter((name) => !Object.hasOwn(migrations, name));
  if (newer.length > 0) return useNewerSchema(store, known, applied, newer);

  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new AppError(
      "internal",
      `migration failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const done = (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  await recordFlags(store, migrations, [...applied, ...done]);
  return { applied: done, current: [...applied, ...done].at(-1) ?? null, newer: [] };
}

async function useNewerSchema(
  store: Store,
  known: readonly string[],
  applied: readonly string[],
  newer: readonly string[],
): Promise<MigrationReport> {
  const flags = await recordedFlags(store);
  // Unrecorded counts as breaking: the newer build may not have recorded it yet, and guessing wrong
  // would run old code on a schema it cannot handle.
  const refused = newer.filter((name) => flags.get(name) !== false);
  const missing = known.filter((name) => !applied.includes(name));
  if (refused.length > 0 || missing.length > 0) {
    const why =
      refused.length > 0
        ? `breaking or unrecorded migrations: ${refused.join(", ")}`
        : `it lacks migrations of this version: ${missing.join(", ")}`;
    throw new AppError(
      "conflict",
      `the database was migrated by a newer autopatch (${why}); upgrade autopatch`,
      { where: store.displayUrl, reason: "store.newer-schema", details: { newer, refused, missing } },
    );
  }
  return { applied: [], current: known.at(-1) ?? null, newer: [...newer] };
}

async function hasTable(store: Store, name: string): Promise<boolean> {
  const tables = await store.db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.some((t) => t.name === name);
}

async function appliedMigrationNames(store: Store): Promise<string[]> {
  if (!(await hasTable(store, "kysely_migration"))) return [];
  const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
  return rows.rows.map((r) => r.name);
}

async function recordedFlags(store: Store): Promise<Map<string, boolean>> {
  if (!(await hasTable(store, META_TABLE))) return new Map();
  const rows = await store.db.selectFrom("schema_meta").select(["migration", "breaking"]).execute();
  return new Map(rows.map((r) => [r.migration, Number(r.breaking) === 1]));
}

/**
 * Records each applied migration this build knows with its flag. Idempotent, so a crash between a
 * migration and its record is mended on the next start (until then older builds refuse the store).
 */
async function recordFlags(
  store: Store,
  migrations: Readonly<Record<string, MigrationModule>>,
  applied: readonly string[],
): Promise<void> {
  if (!(await hasTable(store, META_TABLE))) return;
  const recorded = await recordedFlags(store);
  const rows = applied
    .filter((name) => Object.hasOwn(migrations, name) && !recorded.has(name))
    .map((name) => ({
      migration: name,
      breaking: migrations[name]?.breaking === true ? 1 : 0,
      recorded_at: new Date().toISOString(),
    }));
  if (rows.length === 0) return;
  await store.write(async (trx) => {
    await trx
      .insertInto("schema_meta")
      .values(rows)
      .onConflict((oc) => oc.column("migration").doNothing())
      .execute();
  });
}
