import type { Insertable, Kysely } from "kysely";
import { findingKeys } from "../../src/advisories/findings/finding-rows.js";
import type { Database, FindingsTable } from "../../src/store/schema.js";

/**
 * Findings as the matcher would have stored them, written into the tables behind the `findings` view
 * (a view takes no inserts): each keeps the given id.
 */
export async function insertFindings(
  db: Kysely<Database>,
  rows: ReadonlyArray<Insertable<FindingsTable>>,
): Promise<void> {
  const full = rows.map((r) => ({
    ...r,
    fixed_version: r.fixed_version ?? null,
    severity_score: r.severity_score ?? null,
    severity_vector: r.severity_vector ?? null,
    epss: r.epss ?? null,
  }));
  const keys = await findingKeys(db, full);
  await db
    .insertInto("finding_rows")
    .values(
      full.map((r, i) => ({
        ...(keys[i] as (typeof keys)[number]),
        text_id: r.id,
        status: r.status,
        status_reason: r.status_reason ?? null,
        status_by: r.status_by ?? null,
        status_expires_at: r.status_expires_at ?? null,
        first_seen: r.first_seen,
        due_at: r.due_at ?? null,
        updated_at: r.updated_at,
      })),
    )
    .execute();
}
