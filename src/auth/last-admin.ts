import type { Kysely } from "kysely";
import { reasonError } from "../domain/errors.js";
import type { Database } from "../store/schema.js";

/** What is about to stop authenticating: one token, or every token of one principal. */
export type Losing = { tokenId: string } | { principalId: string };

/**
 * Refuses a change that would leave no active admin token of an enabled principal: nobody could
 * create tokens again but through the offline recovery. Touching every active admin token first makes
 * two such changes take turns (PostgreSQL row locks; SQLite has one writer), so the second counts what
 * the first did.
 */
export async function refuseLastAdmin(trx: Kysely<Database>, losing: Losing): Promise<void> {
  await trx
    .updateTable("api_tokens")
    .set({ revoked_at: null })
    .where("kind", "=", "user")
    .where("role", "=", "admin")
    .where("revoked_at", "is", null)
    .execute();
  const admins = trx
    .selectFrom("api_tokens as t")
    .innerJoin("principals as p", "p.id", "t.principal_id")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("t.kind", "=", "user")
    .where("t.role", "=", "admin")
    .where("t.revoked_at", "is", null)
    .where("p.disabled_at", "is", null);
  const others = await ("tokenId" in losing
    ? admins.where("t.id", "!=", losing.tokenId)
    : admins.where("p.id", "!=", losing.principalId)
  ).executeTakeFirstOrThrow();
  if (Number(others.n) === 0) {
    const what = "tokenId" in losing ? `token ${losing.tokenId} is` : "this principal holds";
    throw reasonError(
      "token.last-admin",
      `${what} the last active admin token; create another admin token first (offline: ` +
        "`autopatch token create --role admin --name NAME --database URL` on the server's host)",
    );
  }
}
