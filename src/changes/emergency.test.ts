import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../policy/default-policy.js";
import { loadPolicy } from "../policy/loader.js";
import { type EmergencyEvidence, effectiveApprovalRule } from "./approval-rule.js";
import { emergencyRule } from "./emergency.js";

const KEV: EmergencyEvidence = {
  finding: "f-1",
  vulnId: "CVE-2024-6387",
  asset: "web-1",
  knownExploited: true,
  class: "emergency",
};

describe("emergencyRule", () => {
  const fastPath = effectiveApprovalRule(DEFAULT_POLICY, "emergency", ["prod"]);

  it("keeps the policy's fast path when a finding backs the emergency, and records it", () => {
    expect(emergencyRule(fastPath, [KEV])).toEqual({
      ...fastPath,
      emergency: { evidence: [KEV], confirmationRequired: false },
    });
  });

  it("without evidence asks one approver or admin who is not the requester, and keeps the review", () => {
    expect(emergencyRule(fastPath, [])).toEqual({
      ...fastPath,
      required: 1,
      fromRoles: ["approver", "admin"],
      separationOfDuties: true,
      emergency: { evidence: [], confirmationRequired: true },
    });
  });

  it.each([
    // A policy that lets operators approve or turns separation of duties off does not lower the bar.
    ["{required: 0, fromRoles: [operator], separationOfDuties: false}", 1, ["approver", "admin"]],
    ["{required: 0, fromRoles: [admin, operator]}", 1, ["admin"]],
    // A policy that asks for more keeps asking for more.
    ["{required: 2, fromRoles: [approver], rules: []}", 2, ["approver"]],
  ] as const)("approvals %s → %i from %j", (approvals, required, fromRoles) => {
    const policy = loadPolicy(`approvals: ${approvals}\n`);
    const rule = emergencyRule(effectiveApprovalRule(policy, "emergency", ["prod"]), []);
    expect(rule).toMatchObject({ required, fromRoles, separationOfDuties: true });
  });
});
