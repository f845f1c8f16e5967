/**
 * Choosing the policy that governs findings (`policy use NAME`): admins only, audited, and the change
 * of classification rules and SLAs is owed to every unresolved finding in the same transaction (their
 * classes and due dates are stored), then done right after the commit.
 */
import type { Kysely } from "kysely";
import { appendAudit } from "../../audit/log.js";
import { NotFoundError } from "../../domain/errors.js";
import { type Actor, actorLabel } from "../../domain/roles.js";
import { FINDINGS_PURPOSE, policySelection } from "../../policy/selection.js";
import {
  checkPolicyName,
  DEFAULT_POLICY_NAME,
  ensureDefaultPolicy,
  latestRow,
  requirePolicyWriter,
} from "../../policy/store.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database } from "../../store/schema.js";
import { drainOwedWork } from "../../work/drain.js";
import { oweWork } from "../../work/owe.js";
import { REFRESH_RISK } from "../ingest/matcher-hooks.js";

export interface UseResult {
  purpose: string;
  name: string;
  version: number;
  hash: string;
  /** The name chosen before; null when the built-in policy governed. */
  previous: string | null;
  /** False when the name was chosen already. */
  changed: boolean;
}

/** Owes a re-classification and re-dating of every unresolved finding, in the caller's transaction. */
export async function oweFindingsRedating(trx: Kysely<Database>, now: Date): Promise<void> {
  await oweWork(trx, REFRESH_RISK, [{ key: "*", payload: { cve: null } }], now);
}

/**
 * For `policy apply` and approved proposals: a new version of the governing policy re-dates findings
 * as a new choice does. Runs inside the transaction that stored the version.
 */
export async function afterPolicyVersion(
  trx: Kysely<Database>,
  stored: { name: string; created: boolean },
  now: Date,
): Promise<void> {
  if (!stored.created) return;
  if ((await policySelection(trx, FINDINGS_PURPOSE))?.name === stored.name)
    await oweFindingsRedating(trx, now);
}

/** Does the owed re-dating now; a failure stays owed for the work loop and is logged, not thrown. */
export async function settleFindingsRedating(ctx: ServiceContext): Promise<void> {
  const result = await drainOwedWork(ctx, [REFRESH_RISK]);
  const failure = result?.failures[0];
  if (failure !== undefined) {
    ctx.logger.warn({ err: failure.error }, "re-dating findings under the new policy failed; it stays owed");
  }
}

/** Chooses the stored policy `name` to govern findings. */
export async function useFindingsPolicy(ctx: ServiceContext, actor: Actor, name: string): Promise<UseResult> {
  requirePolicyWriter(actor);
  checkPolicyName(name);
  if (name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  const result = await ctx.store.write(async (trx): Promise<UseResult> => {
    const latest = await latestRow(trx, name);
    if (!latest) throw new NotFoundError(`no policy named "${name}"`, { where: "/name" });
    const before = await policySelection(trx, FINDINGS_PURPOSE);
    const out: UseResult = {
      purpose: FINDINGS_PURPOSE,
      name,
      version: Number(latest.version),
      hash: latest.content_hash,
      previous: before?.name ?? null,
      changed: before?.name !== name,
    };
    if (!out.changed) return out;
    const now = ctx.now();
    const row = {
      purpose: FINDINGS_PURPOSE,
      name,
      chosen_by: actorLabel(actor),
      chosen_at: now.toISOString(),
    };
    await trx
      .insertInto("policy_selections")
      .values(row)
      .onConflict((oc) =>
        oc.column("purpose").doUpdateSet({ name, chosen_by: row.chosen_by, chosen_at: row.chosen_at }),
      )
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "policy.selected",
        targetType: "policy",
        targetId: latest.id,
        data: {
          purpose: FINDINGS_PURPOSE,
          name,
          version: out.version,
          hash: out.hash,
          previous: out.previous,
          principal: actor.principal,
          role: actor.role,
        },
      },
      now,
    );
    await oweFindingsRedating(trx, now);
    return out;
  });
  if (result.changed) await settleFindingsRedating(ctx);
  return result;
}
