/** Why a finding has its score, class and due date: each factor with its effect, and the rules applied. */
import { NotFoundError } from "../../domain/errors.js";
import type { ChangeClass, Policy } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import { assessRisk, type RiskFactor } from "../prioritise.js";
import { AssetContexts } from "./asset-context.js";
import { dueDate } from "./due-date.js";
import type { Finding } from "./finding.js";
import { findingsPolicy } from "./findings-policy.js";
import { getFinding } from "./query.js";

export interface FindingExplanation {
  finding: Finding;
  /** The score from the finding's facts and its asset as they are now; the factors' effects sum to it. */
  score: number;
  factors: RiskFactor[];
  class: ChangeClass;
  classRule: string;
  /** The score the last match stored; it differs when the asset's labels changed since. */
  storedScore: number;
  due: { at: string; rule: string };
}

function classRule(policy: Policy, score: number, knownExploited: boolean, cls: ChangeClass): string {
  const { emergency, high } = policy.classification.risk;
  const scaled = (score / 10).toFixed(2);
  if (knownExploited && emergency.knownExploited)
    return "emergency: known exploited (policy: knownExploited)";
  if (cls === "emergency") return `emergency: score ${score} / 10 = ${scaled} ≥ ${emergency.minScore}`;
  if (cls === "high")
    return `high: score ${score} / 10 = ${scaled} ≥ ${high.minScore} (emergency from ${emergency.minScore})`;
  return `routine: score ${score} / 10 = ${scaled} < ${high.minScore}`;
}

export async function explainFinding(ctx: ServiceContext, id: string): Promise<FindingExplanation> {
  const finding = await getFinding(ctx, id);
  const db = ctx.store.db;
  const policy = await findingsPolicy(db);
  const row = await db.selectFrom("assets").selectAll().where("id", "=", finding.asset.id).executeTakeFirst();
  if (!row) throw new NotFoundError(`the asset of finding ${id} is gone`);
  const asset = new AssetContexts(policy).of(row);
  const assessment = assessRisk(
    { cvss: finding.severity.score, epss: finding.epss, knownExploited: finding.kev, ...asset.risk },
    policy,
  );
  const due = dueDate(policy, assessment.class, asset.sla[assessment.class], new Date(finding.firstSeen));
  return {
    finding,
    score: assessment.score,
    factors: assessment.factors,
    class: assessment.class,
    classRule: classRule(policy, assessment.score, finding.kev, assessment.class),
    storedScore: finding.riskScore,
    due: { at: due.at.toISOString(), rule: due.rule },
  };
}
