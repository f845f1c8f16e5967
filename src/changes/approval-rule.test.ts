import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../policy/default-policy.js";
import { loadPolicy } from "../policy/loader.js";
import { effectiveApprovalRule } from "./approval-rule.js";

const H = 3_600_000;

describe("effectiveApprovalRule", () => {
  const policy = loadPolicy(`approvals:
  required: 2
  fromRoles: [approver, admin]
  expiresAfter: 48h
  rules:
    - {class: emergency, required: 0, postReviewWithin: 24h, justificationRequired: true}
    - {class: emergency, environment: prod, required: 1, postReviewWithin: 12h}
    - {environment: dev, required: 0, fromRoles: [approver, operator]}
`);

  it.each([
    ["routine", [], { required: 2, fromRoles: ["approver", "admin"], postReviewWithinMs: null }],
    ["routine", ["dev"], { required: 0, fromRoles: ["approver", "operator"], postReviewWithinMs: null }],
    ["routine", ["dev", "prod"], { required: 2, fromRoles: ["approver"], postReviewWithinMs: null }],
    ["emergency", ["staging"], { required: 0, postReviewWithinMs: 24 * H, justificationRequired: true }],
    ["emergency", ["prod", "staging"], { required: 1, postReviewWithinMs: 12 * H }],
    ["emergency", ["prod", "prod", ""], { required: 1, environments: ["", "prod"] }],
  ] as const)("%s on %j", (cls, envs, expected) => {
    expect(effectiveApprovalRule(policy, cls, envs)).toMatchObject({ expiresAfterMs: 48 * H, ...expected });
  });

  it("the built-in policy: CAB of one for normal changes, the emergency fast path with a 24 h review", () => {
    expect(effectiveApprovalRule(DEFAULT_POLICY, "high", ["prod"])).toEqual({
      required: 1,
      fromRoles: ["approver", "admin"],
      separationOfDuties: true,
      expiresAfterMs: 72 * H,
      postReviewWithinMs: null,
      justificationRequired: false,
      environments: ["prod"],
      emergency: null,
    });
    expect(effectiveApprovalRule(DEFAULT_POLICY, "emergency", ["prod"])).toMatchObject({
      required: 0,
      postReviewWithinMs: 24 * H,
      justificationRequired: true,
    });
  });
});
