import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "../policy/loader.js";
import { assessRisk, assetRiskContext, type RiskInput, riskScore } from "./prioritise.js";

const base: RiskInput = {
  cvss: null,
  epss: null,
  knownExploited: false,
  criticality: 3,
  internetExposed: false,
  sensitiveData: false,
};

describe("assessRisk", () => {
  it.each([
    ["CVSS 9.8 (CVE-2021-44228's score), neutral asset", { cvss: 9.8 }, 98, "emergency"],
    ["CVSS 7.5, neutral asset", { cvss: 7.5 }, 75, "high"],
    ["no CVSS score: counted as medium", {}, 50, "routine"],
    ["CVSS 5.0 with EPSS 5 %", { cvss: 5, epss: 0.05 }, 57.5, "routine"],
    ["EPSS saturates at 10 %", { cvss: 5, epss: 0.5 }, 65, "routine"],
    ["known exploited: emergency whatever the score", { cvss: 3.1, knownExploited: true }, 51, "emergency"],
    ["CVSS 9.8 on a criticality-1 asset", { cvss: 9.8, criticality: 1 }, 78.4, "high"],
    [
      "CVSS 6.0, criticality 5, internet-facing, personal data",
      { cvss: 6, criticality: 5, internetExposed: true, sensitiveData: true },
      91.1,
      "emergency",
    ],
    [
      "everything at once is capped at 100",
      { cvss: 10, epss: 1, knownExploited: true, criticality: 5, internetExposed: true, sensitiveData: true },
      100,
      "emergency",
    ],
    ["CVSS 0.0", { cvss: 0, criticality: 1 }, 0, "routine"],
  ] as const)("%s → %d %s", (_label, overrides, score, cls) => {
    const input = { ...base, ...overrides };
    const result = assessRisk(input);
    expect(result.score).toBe(score);
    expect(result.class).toBe(cls);
    expect(riskScore(input)).toEqual({ score, class: cls });
  });

  it("explains each factor with the points it adds", () => {
    const result = assessRisk({
      ...base,
      cvss: 6,
      epss: 0.02,
      criticality: 5,
      internetExposed: true,
      sensitiveData: true,
    });
    expect(result.factors.map((f) => [f.name, f.effect])).toEqual([
      ["severity", 60],
      ["epss", 3],
      ["kev", 0],
      ["criticality", 12.6],
      ["exposure", 11.3],
      ["data", 8.7],
    ]);
    expect(result.factors[1]?.explanation).toBe(
      "EPSS 2 % chance of exploitation in 30 days: +3.0 (15 at 10 % or more)",
    );
    expect(result.factors[3]?.explanation).toBe("asset criticality 5 of 5: × 1.2 → +12.6");
    expect(result.score).toBe(95.6);
  });

  it("names the cap when it applies", () => {
    const result = assessRisk({ ...base, cvss: 10, knownExploited: true });
    expect(result.factors.at(-1)).toMatchObject({ name: "cap", effect: -20 });
    expect(result.score).toBe(100);
  });

  it("classifies with the policy's thresholds", () => {
    const strict = loadPolicy(
      "classification:\n  risk:\n    emergency: {minScore: 7}\n    high: {minScore: 4}\n",
    );
    expect(assessRisk({ ...base, cvss: 7.5 }, strict).class).toBe("emergency");
    expect(assessRisk({ ...base }, strict).class).toBe("high");
  });

  it("for any input the effects sum to the score, which stays within 0–100 and grows with CVSS", () => {
    const input = fc.record({
      cvss: fc.option(fc.integer({ min: 0, max: 100 }).map((n) => n / 10)),
      epss: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      knownExploited: fc.boolean(),
      criticality: fc.integer({ min: 1, max: 5 }),
      internetExposed: fc.boolean(),
      sensitiveData: fc.boolean(),
    });
    fc.assert(
      fc.property(input, (i) => {
        const result = assessRisk(i);
        const sum = result.factors.reduce((s, f) => s + f.effect, 0);
        expect(sum).toBeCloseTo(result.score, 6);
        expect(result.score).toBeGreaterThanOrEqual(0);
        expect(result.score).toBeLessThanOrEqual(100);
        if (i.cvss !== null && i.cvss < 10) {
          expect(assessRisk({ ...i, cvss: i.cvss + 0.1 }).score).toBeGreaterThanOrEqual(result.score);
        }
      }),
    );
  });
});

describe("assetRiskContext", () => {
  it.each([
    [{}, false, false],
    [{ exposure: "internet" }, true, false],
    [{ exposure: "internal", data: "pii" }, false, true],
    [{ data: "sensitive" }, false, true],
    [{ data: "public" }, false, false],
  ])("labels %j", (labels, internetExposed, sensitiveData) => {
    expect(assetRiskContext({ criticality: 4, labels })).toEqual({
      criticality: 4,
      internetExposed,
      sensitiveData,
    });
  });
});
