/**
 * Change requests: create (draft), submit, cancel. Approvals are in approvals.ts, the post-hoc review
 * in review.ts, reads in queries.ts. Every write is one transaction with its audit event.
 */
import type { Kysely } from "kysely";
import { appendAudit } from "../audit/log.js";
import { reasonError } from "../domain/errors.js";
import { type Actor, actorLabel, roleAllows } from "../domain/roles.js";
import {
  DEFAULT_POLICY_NAME,
  ensureDefaultPolicy,
  findPolicy,
  loadPinnedPolicy,
  parsePolicyRef,
  type StoredPolicy,
} from "../policy/store.js";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";
import { effectiveApprovalRule } from "./approval-rule.js";
import { alsoArtifactsOfRow, requireArtifactCoverage, resolveChangeArtifacts } from "./change-artifacts.js";
import { DEFAULT_CHANGE_ECOSYSTEM, type ParsedChangeInput, parseChangeInput } from "./change-input.js";
import type { ChangeRequest } from "./change-request.js";
import { emergencyEvidence, emergencyRule } from "./emergency.js";
import { packagesOfChange } from "./installed.js";
import { transition } from "./lifecycle.js";
import { readChange } from "./queries.js";
import { type ChangeRow, lockChange, newChangeId, pinOf, stateOf, writeTransition } from "./records.js";
import { scheduleChange } from "./scheduling.js";
import { parseTargetSelector, requireTargets } from "./targets.js";

export interface ReasonInput {
  reason?: string | undefined;
}

function titleOf(input: ParsedChangeInput, emergency: boolean): string {
  return `${input.package} ${input.version}${emergency ? " (emergency)" : ""}`;
}

/** Resolves the policy a new change pins (the latest `default` when none is named); run before the transaction. */
export async function policyForChange(
  ctx: ServiceContext,
  ref: string | undefined,
): Promise<{ name: string; version?: number }> {
  const parsed = parsePolicyRef(ref ?? DEFAULT_POLICY_NAME);
  if (parsed.name === DEFAULT_POLICY_NAME) await ensureDefaultPolicy(ctx);
  return parsed;
}

/**
 * The stored version a new change pins. An older version may hold rules an admin has since tightened,
 * so only an admin pins one that is not the latest (reason `policy.superseded-version`).
 */
export async function pinnablePolicy(
  trx: Kysely<Database>,
  actor: Actor,
  ref: { name: string; version?: number },
): Promise<StoredPolicy> {
  const policy = await findPolicy(trx, ref.name, ref.version);
  if (ref.version === undefined || (actor.role !== null && roleAllows(actor.role, "admin"))) return policy;
  const latest = await findPolicy(trx, ref.name);
  if (latest.version !== policy.version) {
    throw reasonError(
      "policy.superseded-version",
      `policy ${policy.name}@${policy.version} is superseded by version ${latest.version}; only an admin pins an older version`,
      { where: "/policy" },
    );
  }
  return policy;
}

/** Inserts a draft inside the caller's transaction (from-findings drafts several in one). */
export async function insertChange(
  trx: Kysely<Database>,
  actor: Actor,
  input: ParsedChangeInput,
  policy: StoredPolicy,
  now: Date,
): Promise<ChangeRow> {
  const targets = await requireTargets(trx, input.selector);
  const alsoPackages = [...new Set(input.alsoPackages ?? [])].filter((n) => n !== input.package).sort();
  const artifacts = await resolveChangeArtifacts(trx, input, [input.package, ...alsoPackages]);
  await requireArtifactCoverage(trx, targets, {
    package: input.package,
    alsoPackages,
    version: input.version,
    artifacts,
  });
  let id = newChangeId();
  while (await trx.selectFrom("change_requests").select("id").where("id", "=", id).executeTakeFirst()) {
    id = newChangeId();
  }
  const emergency = input.emergency ?? input.class === "emergency";
  const at = now.toISOString();
  const row: ChangeRow = {
    id,
    title: titleOf(input, emergency),
    package_name: input.package,
    package_version: input.version,
    artifact_name: artifacts.main?.name ?? null,
    artifact_sha256: artifacts.main?.sha256 ?? null,
    source: input.source ?? null,
    advisories: JSON.stringify(input.advisories ?? []),
    ticket: input.ticket ?? null,
    selector: input.selector,
    class: input.class ?? (emergency ? "emergency" : "routine"),
    emergency: emergency ? 1 : 0,
    policy_name: policy.name,
    policy_version: policy.version,
    policy_hash: policy.hash,
    justification: input.justification,
    risk_notes: input.risk ?? null,
    rollback_notes: input.rollback ?? null,
    requester: actorLabel(actor),
    requester_name: actor.name,
    requester_principal: actor.principal,
    state: "draft",
    state_reason: null,
    approval_rule: null,
    plan: null,
    scheduled_start: null,
    override_approver: null,
    review_state: "none",
    review_due_at: null,
    reviewed_by: null,
    reviewed_at: null,
    review_reason: null,
    starting_soon_for: null,
    rollout_id: null,
    also_packages: JSON.stringify(alsoPackages),
    also_artifacts: JSON.stringify(artifacts.also),
    created_at: at,
    updated_at: at,
  };
  await trx.insertInto("change_requests").values(row).execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action: "change.created",
      targetType: "change",
      targetId: id,
      reason: input.justification,
      data: {
        ecosystem: input.ecosystem ?? DEFAULT_CHANGE_ECOSYSTEM,
        package: row.package_name,
        version: row.package_version,
        artifact: artifacts.main,
        ...(artifacts.also.length > 0 ? { alsoArtifacts: artifacts.also } : {}),
        source: row.source,
        advisories: input.advisories ?? [],
        ticket: row.ticket,
        selector: row.selector,
        class: row.class,
        emergency,
        policy: { name: policy.name, version: policy.version, hash: policy.hash },
      },
    },
    now,
  );
  return row;
}

/**
 * Creates a draft. ValidationError with a JSON pointer for a missing or bad field (`/package`,
 * `/selector`, …) or a selector that matches no asset; NotFoundError for an unknown policy. The input is
 * a ChangeInput (change-input.ts), checked here whoever calls.
 */
export async function createChange(
  ctx: ServiceContext,
  actor: Actor,
  input: unknown,
): Promise<ChangeRequest> {
  const parsed = parseChangeInput(input);
  parseTargetSelector(parsed.selector);
  const ref = await policyForChange(ctx, parsed.policy);
  const row = await ctx.store.write(async (trx) => {
    const policy = await pinnablePolicy(trx, actor, ref);
    return insertChange(trx, actor, parsed, policy, ctx.now());
  });
  return readChange(ctx, row.id);
}

/**
 * draft → submitted, freezing the approval rule for the environments the selector matches now. When
 * the rule needs no approval (the emergency fast path) the change is planned and scheduled at once; an
 * emergency takes that path only when a known-exploited or emergency-class finding backs it, otherwise
 * it waits for an approver other than the requester to confirm it (emergency.ts).
 */
export async function submitChange(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: ReasonInput = {},
): Promise<ChangeRequest> {
  await ctx.store.write(async (trx) => {
    const now = ctx.now();
    const row = await lockChange(trx, id);
    // The state is checked before anything else, so a repeated submit is a conflict, not a planning error.
    transition(id, stateOf(row), "submit");
    // A change pins the version it is submitted with: a draft made before an admin changed the policy
    // moves to the latest version, unless an admin submits it (only an admin pins an older version).
    const draftPin = pinOf(row);
    const latest = await findPolicy(trx, row.policy_name);
    const isAdmin = actor.role !== null && roleAllows(actor.role, "admin");
    const moved = latest.version !== draftPin.version && !isAdmin;
    const pin = moved ? { name: latest.name, version: latest.version, hash: latest.hash } : draftPin;
    const policy = await loadPinnedPolicy(trx, pin);
    const repin = moved ? { policy_version: pin.version, policy_hash: pin.hash } : {};
    const targets = await requireTargets(trx, row.selector);
    // The fleet may have changed since the draft: a binary installed since then needs its file too.
    await requireArtifactCoverage(trx, targets, {
      package: row.package_name,
      alsoPackages: packagesOfChange(row).slice(1),
      version: row.package_version,
      artifacts: {
        main:
          row.artifact_name === null || row.artifact_sha256 === null
            ? null
            : { name: row.artifact_name, sha256: row.artifact_sha256 },
        also: alsoArtifactsOfRow(row),
      },
    });
    const policyRule = effectiveApprovalRule(
      policy,
      row.class === "emergency" || row.class === "high" ? row.class : "routine",
      targets.map((a) => a.environment),
    );
    const rule =
      Number(row.emergency) === 1
        ? emergencyRule(policyRule, await emergencyEvidence(trx, row, targets))
        : policyRule;
    const unconfirmed = rule.emergency?.confirmationRequired === true;
    const submitted = await writeTransition(trx, row, {
      actor,
      action: "submit",
      reason:
        input.reason?.trim() ||
        (unconfirmed
          ? "emergency without a known-exploited or emergency-class finding: an approver must confirm it"
          : null),
      now,
      set: { approval_rule: JSON.stringify(rule), ...repin },
      data: {
        approvalRule: rule,
        assets: targets.map((a) => a.name),
        ...(moved ? { repinned: { from: draftPin.version, to: pin.version } } : {}),
      },
    });
    if (rule.required === 0) await scheduleChange(trx, submitted, policy, actor, now);
  });
  return readChange(ctx, id);
}

/** draft, submitted, approved or scheduled → cancelled. */
export async function cancelChange(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  input: ReasonInput = {},
): Promise<ChangeRequest> {
  await ctx.store.write(async (trx) => {
    const row = await lockChange(trx, id);
    await writeTransition(trx, row, {
      actor,
      action: "cancel",
      reason: input.reason?.trim() || null,
      now: ctx.now(),
    });
  });
  return readChange(ctx, id);
}
