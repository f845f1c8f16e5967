/**
 * The risk of one finding as a score from 0 to 100 that a person can add up by hand from its factors.
 *
 * Formula (every effect is rounded to one decimal first; the score is the sum of the effects):
 *
 *   threat  = severity + likelihood + exploited
 *     severity   = CVSS base score × 10, so a score reads like CVSS (9.8 → 98) and the policy's
 *                  thresholds, written on the CVSS 0–10 scale, apply to it unchanged (risk / 10).
 *                  No CVSS score: counted as 5.0 (medium), the middle of the scale, rather than 0,
 *                  because a missing score is an unknown, not an absence of risk.
 *     likelihood = 15 × min(1, EPSS / 0.10): EPSS is the probability of exploitation activity in the
 *                  next 30 days; most CVEs sit below 1 %, and 10 % already ranks among the top few
 *                  percent, so the effect saturates there. It may raise a score by at most 1.5 CVSS
 *                  points: likelihood adjusts severity, it does not replace it.
 *     exploited  = 20 when CISA lists the CVE as known exploited (KEV). The class is then emergency
 *                  whatever the score (the policy's knownExploited rule); the points keep such
 *                  findings at the top of score-sorted lists too.
 *   context = the threat scaled by the asset, each step applied to the running total, so its effect
 *             reads as "+x % of what came before":
 *     criticality   × (1 + (c − 3) × 0.10): 3 of 5 is neutral, 1 → × 0.8, 5 → × 1.2.
 *     internet      × 1.15 with the label exposure=internet: reachable by anyone.
 *     data          × 1.10 with the label data=sensitive or data=pii: a breach costs more.
 *   cap     = scores above 100 are cut to 100 (shown as a negative factor, so the sum still holds).
 *
 * The class comes from the policy: classify(policy, { score: score / 10, knownExploited }).
 */
import { DEFAULT_POLICY } from "../policy/default-policy.js";
import { classify } from "../policy/rules.js";
import type { ChangeClass, Policy } from "../policy/schema.js";

export interface RiskInput {
  /** CVSS base score 0–10 (the highest over the vulnerability's advisories); null when none has one. */
  cvss: number | null;
  /** EPSS probability 0–1 (the highest over the vulnerability's CVEs); null when unscored. */
  epss: number | null;
  /** Listed in CISA's Known Exploited Vulnerabilities catalog. */
  knownExploited: boolean;
  /** The asset's criticality, 1 (lowest) to 5 (most critical). */
  criticality: number;
  /** The asset has the label exposure=internet. */
  internetExposed: boolean;
  /** The asset has the label data=sensitive or data=pii. */
  sensitiveData: boolean;
}

export interface RiskFactor {
  name: "severity" | "epss" | "kev" | "criticality" | "exposure" | "data" | "cap";
  /** The input the factor read, as given. */
  value: number | boolean | null;
  /** Points this factor adds (negative: removes); the effects sum to the score. */
  effect: number;
  explanation: string;
}

export interface RiskAssessment {
  /** 0–100, one decimal. */
  score: number;
  factors: RiskFactor[];
  class: ChangeClass;
}

/** Weights of the formula above, named so the explanations quote the same numbers the arithmetic uses. */
export const RISK_WEIGHTS = {
  cvssUnknown: 5,
  epssPoints: 15,
  epssSaturation: 0.1,
  kevPoints: 20,
  criticalityStep: 0.1,
  internet: 1.15,
  sensitiveData: 1.1,
} as const;

// Effects are kept in tenths of a point as integers, so the sum of the shown effects is the score exactly.
const tenths = (points: number): number => Math.round(points * 10);

/** The effects in tenths, in factor order; the pure arithmetic shared by the fast and the explained path. */
function effectsInTenths(input: RiskInput): {
  severity: number;
  epss: number;
  kev: number;
  criticality: number;
  exposure: number;
  data: number;
  cap: number;
} {
  const w = RISK_WEIGHTS;
  const severity = tenths((input.cvss ?? w.cvssUnknown) * 10);
  const epss =
    input.epss === null ? 0 : tenths(w.epssPoints * Math.min(1, Math.max(0, input.epss) / w.epssSaturation));
  const kev = input.knownExploited ? tenths(w.kevPoints) : 0;
  let running = severity + epss + kev;
  const criticality = Math.round(running * (clampCriticality(input.criticality) - 3) * w.criticalityStep);
  running += criticality;
  const exposure = input.internetExposed ? Math.round(running * (w.internet - 1)) : 0;
  running += exposure;
  const data = input.sensitiveData ? Math.round(running * (w.sensitiveData - 1)) : 0;
  running += data;
  const cap = running > 1000 ? 1000 - running : 0;
  return { severity, epss, kev, criticality, exposure, data, cap };
}

function clampCriticality(c: number): number {
  return Number.isFinite(c) ? Math.min(5, Math.max(1, Math.round(c))) : 3;
}

function sumTenths(e: ReturnType<typeof effectsInTenths>): number {
  return e.severity + e.epss + e.kev + e.criticality + e.exposure + e.data + e.cap;
}

/** Score and class only: the hot path of a fleet-wide re-match builds no explanation strings. */
export function riskScore(
  input: RiskInput,
  policy: Policy = DEFAULT_POLICY,
): { score: number; class: ChangeClass } {
  const score = sumTenths(effectsInTenths(input)) / 10;
  return { score, class: classify(policy, { score: score / 10, knownExploited: input.knownExploited }) };
}

const pct = (x: number): string => `${Number((x * 100).toFixed(2))} %`;
const signed = (tenthsValue: number): string =>
  `${tenthsValue >= 0 ? "+" : "−"}${(Math.abs(tenthsValue) / 10).toFixed(1)}`;

/** The score, its class and each factor with its effect and a sentence saying why. */
export function assessRisk(input: RiskInput, policy: Policy = DEFAULT_POLICY): RiskAssessment {
  const w = RISK_WEIGHTS;
  const e = effectsInTenths(input);
  const crit = clampCriticality(input.criticality);
  const factors: RiskFactor[] = [
    {
      name: "severity",
      value: input.cvss,
      effect: e.severity / 10,
      explanation:
        input.cvss === null
          ? `no CVSS score in the advisories: counted as medium (${w.cvssUnknown.toFixed(1)}) × 10`
          : `CVSS base score ${input.cvss.toFixed(1)} × 10`,
    },
    {
      name: "epss",
      value: input.epss,
      effect: e.epss / 10,
      explanation:
        input.epss === null
          ? "no EPSS score for its CVEs"
          : `EPSS ${pct(input.epss)} chance of exploitation in 30 days: ${signed(e.epss)} ` +
            `(${w.epssPoints} at ${pct(w.epssSaturation)} or more)`,
    },
    {
      name: "kev",
      value: input.knownExploited,
      effect: e.kev / 10,
      explanation: input.knownExploited
        ? `known exploited (CISA KEV): ${signed(e.kev)}, and class emergency whatever the score`
        : "not in CISA's known exploited list",
    },
    {
      name: "criticality",
      value: crit,
      effect: e.criticality / 10,
      explanation:
        crit === 3
          ? "asset criticality 3 of 5: neutral"
          : `asset criticality ${crit} of 5: × ${(1 + (crit - 3) * w.criticalityStep).toFixed(1)} → ${signed(e.criticality)}`,
    },
    {
      name: "exposure",
      value: input.internetExposed,
      effect: e.exposure / 10,
      explanation: input.internetExposed
        ? `label exposure=internet: × ${w.internet} → ${signed(e.exposure)}`
        : "not labelled exposure=internet",
    },
    {
      name: "data",
      value: input.sensitiveData,
      effect: e.data / 10,
      explanation: input.sensitiveData
        ? `label data=sensitive or data=pii: × ${w.sensitiveData} → ${signed(e.data)}`
        : "not labelled data=sensitive or data=pii",
    },
  ];
  if (e.cap !== 0) {
    factors.push({
      name: "cap",
      value: null,
      effect: e.cap / 10,
      explanation: `scores are capped at 100: ${signed(e.cap)}`,
    });
  }
  const score = sumTenths(e) / 10;
  return {
    score,
    factors,
    class: classify(policy, { score: score / 10, knownExploited: input.knownExploited }),
  };
}

/** What the asset's labels say about it, as the risk formula reads them. */
export function assetRiskContext(asset: {
  criticality: number;
  labels: Readonly<Record<string, string>>;
}): Pick<RiskInput, "criticality" | "internetExposed" | "sensitiveData"> {
  const data = asset.labels.data;
  return {
    criticality: asset.criticality,
    internetExposed: asset.labels.exposure === "internet",
    sensitiveData: data === "sensitive" || data === "pii",
  };
}
