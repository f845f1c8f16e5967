/**
 * Policies stored versioned. A policy is named by its own `name:` field; applying a content whose hash
 * (policyContentHash: the parsed policy, defaults included) equals the latest version of that name
 * returns that version, anything else becomes the next version. Rows are never changed or deleted, so a
 * change request that pins (name, version, hash) always finds the exact policy it was planned with.
 *
 * The built-in default policy is available as name `default`: it is stored as version 1 of `default`
 * on first use (listing or showing policies, or a change that names it), authored by `system` and
 * audited like any other version. Applying a file whose `name:` is `default` makes a newer version.
 *
 * Only an admin stores a version: a policy holds the approval rules, so whoever may write one could
 * otherwise switch off the approvals of their own changes (invariant 8).
 */
import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { ConflictError, NotFoundError, reasonError, ValidationError } from "../domain/errors.js";
import { type Actor, actorLabel, roleAllows, SYSTEM_ACTOR } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import type { Database, PoliciesTable } from "../store/schema.js";
import { defaultPolicyYaml } from "./default-policy.js";
import { type DiffSide, diffPolicies, type PolicyDiff } from "./diff.js";
import { loadPolicy, policyContentHash } from "./loader.js";
import { POLICY_NAME, type Policy } from "./schema.js";
import { FINDINGS_PURPOSE, policySelection } from "./selection.js";
import { parseWebhookAllowList } from "./webhook-destination.js";

export const DEFAULT_POLICY_NAME = "default";

/** One stored version, without its content: the one schema of its shape (the API publishes it). */
export const policyVersionInfoSchema = z
  .object({
    name: z.string(),
    version: z.number().int(),
    hash: z.string(),
    author: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: "PolicyVersion" });

export type PolicyVersionInfo = z.infer<typeof policyVersionInfoSchema>;

/** A stored version with its YAML and the parsed policy. */
export interface StoredPolicy extends PolicyVersionInfo {
  content: string;
  policy: Policy;
}

/** The latest version of a name and how many versions it has. */
export interface PolicySummary extends PolicyVersionInfo {
  versions: number;
  /** Chosen with `policy use` to classify findings and set their due dates. */
  findings: boolean;
}

export interface ApplyResult extends PolicyVersionInfo {
  /** False when the content equalled the latest version, which is returned unchanged. */
  created: boolean;
}

/** What `applyPolicy` returns: the stored version and what it changed against the latest before. */
export interface AppliedPolicy extends ApplyResult {
  diff: PolicyDiff;
}

/** Work a stored version owes, done in the transaction that stores it (findings re-dated, …). */
export type AfterStore = (trx: Kysely<Database>, stored: ApplyResult, now: Date) => Promise<void>;

/** What a change request pins. */
export interface PolicyRef {
  name: string;
  version: number;
  hash: string;
}

function info(row: Selectable<PoliciesTable>): PolicyVersionInfo {
  return {
    name: row.name,
    version: Number(row.version),
    hash: row.content_hash,
    author: row.author,
    createdAt: row.created_at,
  };
}

function stored(row: Selectable<PoliciesTable>): StoredPolicy {
  return {
    ...info(row),
    content: row.content,
    // Its webhooks were checked when it was applied; delivery checks them again.
    policy: loadPolicy(row.content, `${row.name}@${row.version}`, { webhooks: null, consistency: false }),
  };
}

export function checkPolicyName(name: string, where = "/name"): void {
  if (!POLICY_NAME.test(name)) {
    throw new ValidationError(
      `policy name "${name}" is not 1–63 of A-Z a-z 0-9 . _ - starting alphanumeric`,
      { where },
    );
  }
}

/** Reads `NAME` or `NAME@VERSION`. */
export function parsePolicyRef(text: string, where = "/policy"): { name: string; version?: number } {
  const at = text.lastIndexOf("@");
  const name = at < 0 ? text : text.slice(0, at);
  checkPolicyName(name, where);
  if (at < 0) return { name };
  const version = text.slice(at + 1);
  if (!/^\d{1,9}$/.test(version))
    throw new ValidationError(`"${version}" is not a policy version number`, { where });
  return { name, version: Number(version) };
}

export async function latestRow(
  db: Kysely<Database>,
  name: string,
): Promise<Selectable<PoliciesTable> | undefined> {
  return db
    .selectFrom("policies")
    .selectAll()
    .where("name", "=", name)
    .orderBy("version", "desc")
    .limit(1)
    .executeTakeFirst();
}

function isUniqueViolation(err: unknown): boolean {
  const code = err !== null && typeof err === "object" && "code" in err ? String(err.code) : "";
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

// Two replicas applying the same name at once both pick the next version; the unique (name, version)
// key lets one win and the other retries against the new latest.
export async function retryOnRace<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 4) throw err;
    }
  }
}

/** Who a version is by when it is not the actor who stores it: an approved proposal's proposer. */
export interface VersionOrigin {
  author: string;
  data: Record<string, unknown>;
}

/**
 * Stores the next version of `name` inside the caller's transaction, with its audit event, unless the
 * content equals the latest version. The caller has checked who may store it.
 */
export async function insertVersion(
  trx: Kysely<Database>,
  actor: Actor,
  name: string,
  content: string,
  hash: string,
  now: Date,
  file: string | undefined,
  origin?: VersionOrigin,
): Promise<ApplyResult> {
  const latest = await latestRow(trx, name);
  if (latest && latest.content_hash === hash) return { ...info(latest), created: false };
  const row: Selectable<PoliciesTable> = {
    id: randomUUID(),
    name,
    version: latest ? Number(latest.version) + 1 : 1,
    content_hash: hash,
    content,
    author: origin?.author ?? actorLabel(actor),
    created_at: now.toISOString(),
  };
  await trx.insertInto("policies").values(row).execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action: "policy.applied",
      targetType: "policy",
      targetId: row.id,
      data: {
        name,
        version: row.version,
        hash,
        principal: actor.principal,
        role: actor.role,
        ...(file === undefined ? {} : { file }),
        ...origin?.data,
      },
      ...(name === DEFAULT_POLICY_NAME && actor === SYSTEM_ACTOR
        ? { reason: "built-in default policy stored on first use" }
        : {}),
    },
    now,
  );
  return { ...info(row), created: true };
}

/** Refuses anyone but an admin (or the server itself): the route checks it too, the service never relies on that. */
export function requirePolicyWriter(actor: Actor): void {
  if (actor.kind === "agent" || actor.role === null || !roleAllows(actor.role, "admin")) {
    throw reasonError(
      "policy.admin-required",
      `storing a policy version needs the admin role; ${actorLabel(actor)} has ${actor.role ?? "none"}`,
    );
  }
}

/**
 * Validates policy YAML (ValidationError with `file:line:col`) and stores it as the next version of
 * its name unless it equals the latest one. Admins only (forbidden, reason `policy.admin-required`, checked
 * before the content is read, so a refused caller learns nothing about it). Audited.
 */
export async function applyPolicy(
  ctx: ServiceContext,
  actor: Actor,
  text: string,
  file?: string,
  afterStore?: AfterStore,
): Promise<AppliedPolicy> {
  requirePolicyWriter(actor);
  const policy = loadPolicy(text, file, { webhooks: parseWebhookAllowList(ctx.config.webhookAllow) });
  checkPolicyName(policy.name);
  const hash = policyContentHash(text);
  if (policy.name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  return retryOnRace(() =>
    ctx.store.write(async (trx) => {
      const before = await latestRow(trx, policy.name);
      const now = ctx.now();
      const result = await insertVersion(trx, actor, policy.name, text, hash, now, file);
      await afterStore?.(trx, result, now);
      const diff = diffPolicies(before === undefined ? null : sideOf(before), {
        label: file ?? `${result.name}@${result.version}`,
        content: text,
        policy,
      });
      return { ...result, diff };
    }),
  );
}

/** A stored version as one side of a diff, labelled NAME@VERSION. */
function sideOf(row: Selectable<PoliciesTable>): DiffSide {
  const { content, policy } = stored(row);
  return { label: `${row.name}@${row.version}`, content, policy };
}

/** Stores the built-in policy as `default` version 1 unless a `default` exists already. */
export async function ensureDefaultPolicy(ctx: ServiceContext): Promise<void> {
  if (await latestRow(ctx.store.db, DEFAULT_POLICY_NAME)) return;
  const text = defaultPolicyYaml();
  await retryOnRace(() =>
    ctx.store.write(async (trx) => {
      if (await latestRow(trx, DEFAULT_POLICY_NAME)) return;
      await insertVersion(
        trx,
        SYSTEM_ACTOR,
        DEFAULT_POLICY_NAME,
        text,
        policyContentHash(text),
        ctx.now(),
        undefined,
      );
    }),
  );
}

/** Every policy name with its latest version, by name. */
export async function listPolicies(ctx: ServiceContext): Promise<PolicySummary[]> {
  await ensureDefaultPolicy(ctx);
  const rows = await ctx.store.db
    .selectFrom("policies")
    .selectAll()
    .orderBy("name")
    .orderBy("version", "desc")
    .execute();
  const chosen = (await policySelection(ctx.store.db, FINDINGS_PURPOSE))?.name;
  const out: PolicySummary[] = [];
  for (const row of rows) {
    const last = out.at(-1);
    if (last?.name === row.name) last.versions += 1;
    else out.push({ ...info(row), versions: 1, findings: row.name === chosen });
  }
  return out;
}

/** Every stored version of one name, newest first. */
export async function listPolicyVersions(ctx: ServiceContext, name: string): Promise<PolicyVersionInfo[]> {
  checkPolicyName(name);
  if (name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  const rows = await ctx.store.db
    .selectFrom("policies")
    .selectAll()
    .where("name", "=", name)
    .orderBy("version", "desc")
    .execute();
  if (rows.length === 0) throw new NotFoundError(`no policy named "${name}"`, { where: "/name" });
  return rows.map(info);
}

/** One version (the latest when `version` is absent) with its content and parsed policy. */
export async function getPolicy(ctx: ServiceContext, name: string, version?: number): Promise<StoredPolicy> {
  checkPolicyName(name);
  if (name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  return findPolicy(ctx.store.db, name, version);
}

/** The same as getPolicy inside a transaction (the default policy must have been ensured before). */
export async function findPolicy(
  db: Kysely<Database>,
  name: string,
  version?: number,
): Promise<StoredPolicy> {
  const row =
    version === undefined
      ? await latestRow(db, name)
      : await db
          .selectFrom("policies")
          .selectAll()
          .where("name", "=", name)
          .where("version", "=", version)
          .executeTakeFirst();
  if (!row) {
    throw new NotFoundError(
      version === undefined ? `no policy named "${name}"` : `policy "${name}" has no version ${version}`,
      { where: "/policy" },
    );
  }
  return stored(row);
}

/** The pinned version a change was planned with; ConflictError if its content no longer has the pinned hash. */
export async function loadPinnedPolicy(db: Kysely<Database>, ref: PolicyRef): Promise<Policy> {
  const found = await findPolicy(db, ref.name, ref.version);
  if (found.hash !== ref.hash) {
    throw new ConflictError(
      `policy ${ref.name}@${ref.version} has hash ${found.hash}, not the pinned ${ref.hash}`,
    );
  }
  return found.policy;
}
