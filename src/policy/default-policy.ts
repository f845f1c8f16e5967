/**
 * The built-in policy: the production patching SOP written out as a policy file. The schema defaults
 * encode the same rules, so this text spells them out for people who start from `policy default`.
 */
import { loadPolicy } from "./loader.js";
import type { Policy } from "./schema.js";

const DEFAULT_POLICY_YAML = `# autopatch built-in policy: the production patching SOP.
# Print it with \`autopatch policy default\`, edit it, check it with \`autopatch policy validate\`.
version: 1
name: default
description: Production patching SOP - CAB approval, snapshot, canary then 25% and 75% waves.

classification:
  # Emergency: immediately; high: within 7 days; routine: the next maintenance window.
  sla:
    emergency: 0
    high: 7d
    routine: next-window
  # "Immediately" falls due this long after a finding is first seen, so new is not yet late.
  immediateGrace: 4h
  overrides: []
  # - selector: "exposure=internet"
  #   sla: {high: 3d}
  risk:
    emergency: {knownExploited: true, minScore: 9}
    high: {minScore: 7}

# No windows: a change may start at any time outside a freeze. For example:
# - name: sat-night
#   cron: "0 1 * * SAT"
#   duration: 4h
#   timezone: Europe/Berlin
maintenanceWindows: []
freezes: []

approvals:
  changeRequestRequired: true
  # CAB: one approver who is not the requester.
  required: 1
  fromRoles: [approver, admin]
  separationOfDuties: true
  expiresAfter: 72h
  rules:
    # Emergency fast path: no approval before, a justification, and a review within 24 hours.
    - class: emergency
      required: 0
      postReviewWithin: 24h
      justificationRequired: true

rollout:
  preChecks:
    monitoringReachable: true
    snapshotRequired: true
  # One canary asset, then a quarter of the pool, then the remaining three quarters.
  phases:
    - canary: 1
    - wave: 25%
    - wave: 75%
  observe: 15m
  maxUnavailable: 25%
  failureBudget: {perWave: 0, total: 0}
  finalVerification: true
  rollback: automatic
  progressDeadline: 2h
  notifyBefore: 30m

# Rings in sequence, e.g. the management cluster first, then the main cluster after 2 days:
# - selector: "group=mgmt"
# - selector: "group=main"
#   soak: 2d
ordering: []

notifications:
  leadTime: 30m
  webhooks: []
  # - name: ops-status
  #   url: https://hooks.slack.com/services/...
  #   format: slack
`;

/** The built-in policy as YAML text, comments included. */
export function defaultPolicyYaml(): string {
  return DEFAULT_POLICY_YAML;
}

/** The built-in policy, parsed. */
export const DEFAULT_POLICY: Policy = loadPolicy(DEFAULT_POLICY_YAML, "default-policy.yaml");
