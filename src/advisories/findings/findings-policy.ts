/**
 * The policy findings are classified and given due dates by: the latest stored version of the policy
 * chosen with `policy use NAME` (src/policy/selection.ts), or the built-in policy while none is chosen.
 */
import type { Kysely } from "kysely";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import { loadPolicy } from "../../policy/loader.js";
import type { Policy } from "../../policy/schema.js";
import { policySelection } from "../../policy/selection.js";
import type { Database } from "../../store/schema.js";

// Parsing YAML on every inventory report would cost more than the re-match; a version is parsed once.
const parsed = new Map<string, Policy>();

/** Which version governs findings: the chosen name's latest, or null for the built-in policy. */
export interface GoverningVersion {
  name: string;
  version: number;
  hash: string;
  content: string;
}

export async function governingVersion(db: Kysely<Database>): Promise<GoverningVersion | null> {
  const chosen = await policySelection(db);
  if (chosen === undefined) return null;
  const row = await db
    .selectFrom("policies")
    .select(["name", "content", "content_hash", "version"])
    .where("name", "=", chosen.name)
    .orderBy("version", "desc")
    .limit(1)
    .executeTakeFirst();
  // A choice always names a stored policy (use checks it, and versions are never deleted).
  if (!row) return null;
  return { name: row.name, version: Number(row.version), hash: row.content_hash, content: row.content };
}

export async function findingsPolicy(db: Kysely<Database>): Promise<Policy> {
  const row = await governingVersion(db);
  if (row === null) return DEFAULT_POLICY;
  let policy = parsed.get(row.hash);
  if (policy === undefined) {
    // A stored version: its webhooks and consistency were checked when it was applied.
    policy = loadPolicy(row.content, `${row.name}@${row.version}`, { webhooks: null, consistency: false });
    if (parsed.size > 64) parsed.clear();
    parsed.set(row.hash, policy);
  }
  return policy;
}
