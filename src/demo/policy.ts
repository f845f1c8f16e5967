/**
 * The demo's policy: the patching SOP's defaults (CAB approval by one person who is not the
 * requester, canary then a quarter then the rest, 15 minutes of observation) with a nightly
 * maintenance window and a year-end freeze, so the plan shows real start times.
 */
export const DEMO_POLICY_YAML = `name: demo
description: Nightly window, CAB approval, canary then waves (the demo's policy)
maintenanceWindows:
  - name: nightly
    cron: "0 1 * * *"
    duration: 4h
    timezone: Europe/Berlin
freezes:
  - name: year-end
    from: "2026-12-20T00:00"
    to: "2027-01-04T00:00"
    timezone: Europe/Berlin
approvals:
  required: 1
rollout:
  phases:
    - canary: 1
    - wave: 25%
    - wave: 75%
  observe: 15m
  maxUnavailable: 1
  failureBudget: {perWave: 0, total: 0}
  rollback: automatic
`;
