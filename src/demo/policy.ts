/**
 * The demo's policy: the patching SOP's shape (CAB approval by one person who is not the requester,
 * staging before production with a soak, canary then a quarter then the rest, each host's own health
 * checked, automatic rollback) with the waits shortened so that the whole story runs in a minute. No
 * maintenance window or freeze: the demo starts its rollouts at once, whenever it is run.
 */
export const DEMO_POLICY_YAML = `name: demo
description: CAB approval, staging then production, canary then waves, automatic rollback (the demo's policy)
approvals:
  required: 1
ordering:
  - selector: environment=staging
  - selector: environment=prod
    soak: 2s
    promote: exact
rollout:
  phases:
    - canary: 1
    - wave: 25%
    - wave: 75%
  observe: 1s
  maxUnavailable: 1
  failureBudget: {perWave: 0, total: 0}
  rollback: automatic
  finalVerification: true
  progressDeadline: 5m
  notifyBefore: 0s
verification:
  healthChecks:
    - name: service
      http: "http://127.0.0.1:{{labels.health-port}}/health"
      expectStatus: 200
      timeout: 2s
      retries: 2
      interval: 200ms
`;
