import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";

/**
 * Principals: the person or service account behind tokens. Separation of duties compares them, so
 * change requests and approvals record the principal beside the token name they already keep.
 *
 * Existing stores are migrated in place:
 * - every user token gets the principal named after its token name, mapped by `legacyName`; names that
 *   differed only by case, invisible characters or accents become one principal, which errs towards
 *   "same person" for separation of duties;
 * - tokens named `bootstrap-admin` (the name the server gives the first admin token) belong to the
 *   principal `admin`;
 * - token names are rewritten the same way, with a `-2`, `-3`… suffix where a principal would hold two
 *   equal names;
 * - agent credentials get no principal: an agent acts for its asset (`agent:<assetId>`);
 * - change requests and approvals get the principal their recorded token name maps to; the server's
 *   own actor stays `system`.
 *
 * The mapping is spelled out here rather than imported, so this migration does the same on every later
 * version of autopatch.
 */

const MIGRATED_BY = "migration:0006-principals";
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{M}]|\p{Default_Ignorable_Code_Point}/gu;

/** A stored name as a valid name: compatibility forms folded, marks and hidden characters dropped. */
export function legacyName(name: string): string {
  const folded = name
    .normalize("NFKD")
    .replace(HIDDEN, "")
    .normalize("NFC")
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  const cut = folded.slice(0, 63).replace(/[^a-z0-9]+$/, "");
  return cut === "" ? "unnamed" : cut;
}

/** The principal a token of this (old) name belongs to. */
export function legacyPrincipal(tokenName: string): string {
  if (tokenName === "bootstrap-admin") return "admin";
  const name = legacyName(tokenName);
  // `system` and `offline` are the server's own actors; no token speaks for them.
  return name === "system" || name === "offline" ? `${name}-user` : name;
}

interface Legacy {
  api_tokens: {
    id: string;
    name: string;
    kind: string;
    created_at: string;
    principal_id: string | null;
  };
  principals: {
    id: string;
    name: string;
    kind: string;
    created_at: string;
    created_by: string;
    disabled_at: string | null;
  };
  change_requests: { requester: string; requester_name: string; requester_principal: string };
  approvals: { approver: string; approver_name: string; approver_principal: string };
}

function withSuffix(base: string, n: number): string {
  const suffix = `-${n}`;
  return `${base.slice(0, 63 - suffix.length).replace(/[^a-z0-9]+$/, "")}${suffix}`;
}

export async function up(raw: Kysely<unknown>): Promise<void> {
  await raw.schema
    .createTable("principals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("disabled_at", "text")
    .execute();
  await raw.schema
    .alterTable("api_tokens")
    .addColumn("principal_id", "text", (c) => c.references("principals.id"))
    .execute();
  await raw.schema
    .alterTable("change_requests")
    .addColumn("requester_principal", "text", (c) => c.notNull().defaultTo(""))
    .execute();
  await raw.schema
    .alterTable("approvals")
    .addColumn("approver_principal", "text", (c) => c.notNull().defaultTo(""))
    .execute();

  const db = raw as Kysely<Legacy>;
  const tokens = await db
    .selectFrom("api_tokens")
    .select(["id", "name", "created_at"])
    .where("kind", "=", "user")
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  const principals = new Map<string, { id: string; names: Set<string> }>();
  for (const token of tokens) {
    const principalName = legacyPrincipal(token.name);
    let principal = principals.get(principalName);
    if (!principal) {
      principal = { id: randomUUID(), names: new Set() };
      principals.set(principalName, principal);
      await db
        .insertInto("principals")
        .values({
          id: principal.id,
          name: principalName,
          kind: "person",
          created_at: token.created_at,
          created_by: MIGRATED_BY,
          disabled_at: null,
        })
        .execute();
    }
    const base = legacyName(token.name);
    let name = base;
    for (let n = 2; principal.names.has(name); n++) name = withSuffix(base, n);
    principal.names.add(name);
    await db
      .updateTable("api_tokens")
      .set({ principal_id: principal.id, name })
      .where("id", "=", token.id)
      .execute();
  }

  const requesters = await db
    .selectFrom("change_requests")
    .select(["requester", "requester_name"])
    .distinct()
    .execute();
  for (const r of requesters) {
    await db
      .updateTable("change_requests")
      .set({ requester_principal: r.requester === "system" ? "system" : legacyPrincipal(r.requester_name) })
      .where("requester", "=", r.requester)
      .where("requester_name", "=", r.requester_name)
      .execute();
  }
  const approvers = await db
    .selectFrom("approvals")
    .select(["approver", "approver_name"])
    .distinct()
    .execute();
  for (const a of approvers) {
    await db
      .updateTable("approvals")
      .set({
        approver_principal: a.approver.startsWith("system:") ? "system" : legacyPrincipal(a.approver_name),
      })
      .where("approver", "=", a.approver)
      .where("approver_name", "=", a.approver_name)
      .execute();
  }

  // A principal's active tokens have distinct names; a revoked name may be used again.
  await raw.schema
    .createIndex("api_tokens_principal_name")
    .on("api_tokens")
    .columns(["principal_id", "name"])
    .unique()
    .where(sql.ref("revoked_at"), "is", null)
    .execute();
}
