import { type Kysely, sql } from "kysely";
import type { Database } from "../../store/schema.js";
import { dialectOf } from "../../store/store.js";

/**
 * Serialises advisory, KEV and EPSS imports across server replicas on PostgreSQL, so two imports of
 * the same new ids cannot both decide "added" and then collide; SQLite has a single writer already.
 * Taken first in the import's transaction and released when it ends.
 */
export async function lockAdvisoryImports(trx: Kysely<Database>): Promise<void> {
  if (dialectOf(trx) !== "postgres") return;
  await sql`select pg_advisory_xact_lock(hashtext('autopatch.advisories.import'))`.execute(trx);
}
