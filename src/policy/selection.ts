/**
 * Which stored policy is chosen for a purpose. One purpose today, `findings`: the policy whose latest
 * version classifies findings and sets their SLA due dates (`autopatch policy use NAME`). Without a
 * choice the built-in policy governs; the migration that introduced the choice kept a store's existing
 * `default` policy chosen. Choosing is in src/advisories/findings/findings-policy.ts, with the re-dating
 * it owes.
 */
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";

export const FINDINGS_PURPOSE = "findings";

export interface PolicySelection {
  purpose: string;
  name: string;
  chosenBy: string;
  chosenAt: string;
}

/** The choice for `purpose`, or undefined while none is made. */
export async function policySelection(
  db: Kysely<Database>,
  purpose: string = FINDINGS_PURPOSE,
): Promise<PolicySelection | undefined> {
  const row = await db
    .selectFrom("policy_selections")
    .selectAll()
    .where("purpose", "=", purpose)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { purpose: row.purpose, name: row.name, chosenBy: row.chosen_by, chosenAt: row.chosen_at };
}
