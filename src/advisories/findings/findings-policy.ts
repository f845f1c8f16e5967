/**
 * The policy findings are classified and given due dates by: the latest stored version of the policy
 * named `default`, or the built-in policy while none is stored.
 */
import type { Kysely } from "kysely";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import { loadPolicy } from "../../policy/loader.js";
import type { Policy } from "../../policy/schema.js";
import { DEFAULT_POLICY_NAME } from "../../policy/store.js";
import type { Database } from "../../store/schema.js";

// Parsing YAML on every inventory report would cost more than the re-match; a version is parsed once.
const parsed = new Map<string, Policy>();

export async function findingsPolicy(db: Kysely<Database>): Promise<Policy> {
  const row = await db
    .selectFrom("policies")
    .select(["content", "content_hash", "version"])
    .where("name", "=", DEFAULT_POLICY_NAME)
    .orderBy("version", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) return DEFAULT_POLICY;
  let policy = parsed.get(row.content_hash);
  if (policy === undefined) {
    // A stored version: its webhooks were checked when it was applied.
    policy = loadPolicy(row.content, `${DEFAULT_POLICY_NAME}@${row.version}`, { webhooks: null });
    if (parsed.size > 64) parsed.clear();
    parsed.set(row.content_hash, policy);
  }
  return policy;
}
