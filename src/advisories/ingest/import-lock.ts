import type { Kysely } from "kysely";
import { lockNamed } from "../../store/locks.js";
import type { Database } from "../../store/schema.js";

/**
 * Serialises advisory, KEV and EPSS imports across server replicas, so two imports of the same new
 * ids cannot both decide "added" and then collide. Taken first in the import's transaction and
 * released when it ends.
 */
export async function lockAdvisoryImports(trx: Kysely<Database>): Promise<void> {
  await lockNamed(trx, "autopatch.advisories.import");
}
