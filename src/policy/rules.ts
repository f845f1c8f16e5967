/**
 * Reading a validated policy: the effective SLA, class, approval rule and rollout plan, with durations
 * in milliseconds and amounts parsed, so other modules never re-read the policy's strings.
 */
import { type Amount, parseAmount, parseDuration } from "./duration.js";
import { type ChangeClass, DEFAULT_IMMEDIATE_GRACE, DEFAULT_REVERT_TIMEOUT, type Policy } from "./schema.js";

/** Milliseconds to patch within (0 = immediately), or `next-window`. */
export type SlaDeadline = number | "next-window";

/** Risk facts to classify a change by. */
export interface RiskFacts {
  /** Risk or CVSS base score, 0–10. */
  score?: number;
  knownExploited?: boolean;
}

/** emergency if known-exploited (when the policy says so) or score ≥ emergency.minScore; high if ≥ high.minScore. */
export function classify(policy: Policy, facts: RiskFacts): ChangeClass {
  const { emergency, high } = policy.classification.risk;
  if (emergency.knownExploited && facts.knownExploited === true) return "emergency";
  if (facts.score !== undefined && facts.score >= emergency.minScore) return "emergency";
  if (facts.score !== undefined && facts.score >= high.minScore) return "high";
  return "routine";
}

/**
 * The SLA of a class for an asset: the first override whose selector `matches` (selectors are parsed by
 * the caller's inventory code), else the policy's table.
 */
export function slaFor(
  policy: Policy,
  cls: ChangeClass,
  matches: (selector: string) => boolean = () => false,
): SlaDeadline {
  const override = policy.classification.overrides.find(
    (o) => o.sla[cls] !== undefined && matches(o.selector),
  );
  const value = override?.sla[cls] ?? policy.classification.sla[cls];
  return value === "next-window" ? value : parseDuration(value);
}

/** How long after first seen an SLA of 0 (immediately) falls due: `classification.immediateGrace`, default 4h. */
export function immediateGraceMs(policy: Policy): number {
  return parseDuration(policy.classification.immediateGrace ?? DEFAULT_IMMEDIATE_GRACE);
}

/** The approval rule that applies to a change. */
export interface EffectiveApproval {
  changeRequestRequired: boolean;
  /** Approvers other than the requester needed before the change starts. */
  required: number;
  fromRoles: string[];
  separationOfDuties: boolean;
  expiresAfterMs: number;
  /** A review is due within this long after the change (emergency fast path); undefined when none. */
  postReviewWithinMs?: number;
  justificationRequired: boolean;
}

/** Most specific rule wins: class and environment, then class, then environment, then the defaults. */
export function approvalRuleFor(policy: Policy, cls: ChangeClass, environment?: string): EffectiveApproval {
  const a = policy.approvals;
  const score = (r: (typeof a.rules)[number]): number => {
    if (r.class !== undefined && r.class !== cls) return -1;
    if (r.environment !== undefined && r.environment !== environment) return -1;
    return (r.class !== undefined ? 2 : 0) + (r.environment !== undefined ? 1 : 0);
  };
  let rule: (typeof a.rules)[number] | undefined;
  let best = -1;
  for (const r of a.rules) {
    const s = score(r);
    if (s > best) {
      rule = r;
      best = s;
    }
  }
  return {
    changeRequestRequired: a.changeRequestRequired,
    required: rule?.required ?? a.required,
    fromRoles: rule?.fromRoles ?? a.fromRoles,
    separationOfDuties: a.separationOfDuties,
    expiresAfterMs: parseDuration(a.expiresAfter),
    ...(rule?.postReviewWithin === undefined
      ? {}
      : { postReviewWithinMs: parseDuration(rule.postReviewWithin) }),
    justificationRequired: rule?.justificationRequired ?? false,
  };
}

/** A rollout phase with its size and observation time read. */
export type PlannedPhase =
  | { kind: "canary"; amount: Amount; observeMs: number }
  | { kind: "canary"; selector: string; observeMs: number }
  | { kind: "wave"; amount: Amount; observeMs: number };

/** The rollout section with durations in milliseconds and amounts parsed. */
export interface RolloutPlan {
  phases: PlannedPhase[];
  maxUnavailable: Amount;
  failureBudget: { perWave: Amount; total: Amount };
  rollback: "automatic" | "manual";
  finalVerification: boolean;
  monitoringReachable: boolean;
  snapshotRequired: boolean;
  progressDeadlineMs: number;
  revertTimeoutMs: number;
  notifyBeforeMs: number;
}

// The schema has validated every amount, so a failed parse here is a programming error.
function amountOf(value: string | number): Amount {
  const a = parseAmount(value);
  if (a === undefined) throw new RangeError(`not an amount: ${JSON.stringify(value)}`);
  return a;
}

/** Reads a validated policy's rollout section (each phase's `observe` falls back to `rollout.observe`). */
export function rolloutPlan(policy: Policy): RolloutPlan {
  const r = policy.rollout;
  const observeMs = parseDuration(r.observe);
  const phases = r.phases.map((p): PlannedPhase => {
    const phaseObserve = p.observe === undefined ? observeMs : parseDuration(p.observe);
    if (p.canary !== undefined) {
      const amount = parseAmount(p.canary);
      return amount === undefined || (typeof p.canary === "string" && !/^\s*\d/.test(p.canary))
        ? { kind: "canary", selector: String(p.canary).trim(), observeMs: phaseObserve }
        : { kind: "canary", amount, observeMs: phaseObserve };
    }
    return { kind: "wave", amount: amountOf(p.wave ?? 0), observeMs: phaseObserve };
  });
  return {
    phases,
    maxUnavailable: amountOf(r.maxUnavailable),
    failureBudget: { perWave: amountOf(r.failureBudget.perWave), total: amountOf(r.failureBudget.total) },
    rollback: r.rollback,
    finalVerification: r.finalVerification,
    monitoringReachable: r.preChecks.monitoringReachable,
    snapshotRequired: r.preChecks.snapshotRequired,
    progressDeadlineMs: parseDuration(r.progressDeadline),
    revertTimeoutMs: parseDuration(r.revertTimeout ?? DEFAULT_REVERT_TIMEOUT),
    notifyBeforeMs: parseDuration(r.notifyBefore),
  };
}
