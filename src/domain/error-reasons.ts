import type { ErrorCode } from "./errors.js";

/**
 * The one table of specific error reasons. Each reason names one situation (compare reasons, never
 * messages) and belongs to a category (`ErrorCode`); the category gives the HTTP status and the CLI exit
 * code unless the reason overrides them. The server, the API client and the CLI all read this table.
 *
 * Reasons are stable: add new ones, never rename. Keep each area's reasons together under its comment.
 */
export interface ReasonSpec {
  readonly category: ErrorCode;
  /** Overrides the category's HTTP status. */
  readonly status?: number;
  /** Overrides the category's CLI exit code. */
  readonly exit?: number;
}

export const ERROR_REASONS = {
  // Generic: one per category, used where no specific reason is given.
  validation: { category: "validation" },
  not_found: { category: "not_found" },
  conflict: { category: "conflict" },
  unauthenticated: { category: "unauthenticated" },
  forbidden: { category: "forbidden" },
  unsupported: { category: "unsupported" },
  internal: { category: "internal" },

  // HTTP requests
  "request.route-not-found": { category: "not_found" },
  "request.body-too-large": { category: "validation", status: 413 },
  "request.uri-too-long": { category: "validation", status: 414 },
  "request.headers-too-large": { category: "validation", status: 431 },
  "request.unsupported-media-type": { category: "validation", status: 415 },
  "request.invalid-json": { category: "validation" },
  "request.timeout": { category: "validation", status: 408 },

  // Changes and approvals
  "change.illegal-transition": { category: "conflict" },
  "approval.duplicate": { category: "conflict" },
  "approval.separation-of-duties": { category: "forbidden" },

  // Policies
  "policy.admin-required": { category: "forbidden" },
  "policy.superseded-version": { category: "forbidden" },
  "policy.proposal-unchanged": { category: "conflict" },
  "policy.proposal-decided": { category: "conflict" },
  "policy.proposal-stale": { category: "conflict" },
  "findings.suppression-forbidden": { category: "forbidden" },
  "findings.statement-required": { category: "validation" },
  "findings.expiry-required": { category: "validation" },
  "findings.date-in-past": { category: "validation" },
  "findings.date-too-far": { category: "validation" },

  // Identity and tokens
  "principal.invalid-name": { category: "validation" },
  "principal.invalid-kind": { category: "validation" },
  "principal.exists": { category: "conflict" },
  "principal.not-found": { category: "not_found" },
  "principal.disabled": { category: "conflict" },
  "token.invalid-name": { category: "validation" },
  "token.duplicate-name": { category: "conflict" },
  "token.not-found": { category: "not_found" },
  "token.last-admin": { category: "conflict" },

  // Enrollment and agents
  "enroll.asset-exists": { category: "conflict" },
  "enroll.token-refused": { category: "unauthenticated" },
  "enroll.ttl-out-of-range": { category: "validation" },

  // Audit
  "audit.chain-broken": { category: "internal", exit: 6 },
  "audit.key-missing": { category: "validation" },
  "audit.key-permissions": { category: "validation" },
  "audit.key-invalid": { category: "validation" },
  "audit.checkpoint-invalid": { category: "validation" },
  "audit.signing-unavailable": { category: "unsupported" },

  // Inputs and imports
  "inventory.would-empty": { category: "conflict" },
  "inventory.duplicate-package": { category: "validation" },
  "kev.older-catalog": { category: "conflict" },
  "kev.mass-removal": { category: "conflict" },
  "osv.modified-in-future": { category: "validation" },
  "asset.invalid-placement": { category: "validation" },
  "change.invalid-package": { category: "validation" },
  "change.invalid-version": { category: "validation" },
  // A change's package files: one not in the artifact store, one of another package or version, or an
  // installed binary of the change that no file covers.
  "change.artifact-unknown": { category: "validation" },
  "change.artifact-mismatch": { category: "validation" },
  "change.artifact-missing": { category: "validation" },
  "input.lone-surrogate": { category: "validation" },
  "input.too-deep": { category: "validation" },
  "input.yaml-aliases": { category: "validation" },
  "input.empty": { category: "validation" },
  "input.webhook-destination": { category: "validation" },

  // Store
  "store.newer-schema": { category: "conflict" },
  "store.unavailable": { category: "internal", status: 503 },
  // A write whose shared (group-commit) transaction failed: nothing of it was applied, so it may be retried.
  "store.write-aborted": { category: "internal", status: 503 },
  "store.work-failed": { category: "internal" },

  // Rollouts
  "plan.invalid-version": { category: "validation" },
  "plan.unsupported-ecosystem": { category: "unsupported" },
  "plan.unreadable": { category: "internal" },
  // Background loops (src/scheduler/): a registration the scheduler refuses, and why a pass was aborted.
  "scheduler.invalid-loop": { category: "validation" },
  "scheduler.duplicate-loop": { category: "conflict" },
  "scheduler.stopped": { category: "conflict" },
  "scheduler.pass-timeout": { category: "internal", status: 503 },
  "scheduler.lease-lost": { category: "conflict" },
  "scheduler.stopping": { category: "internal", status: 503 },
  "rollout.not-found": { category: "not_found" },
  "rollout.asset-not-found": { category: "not_found" },
  "rollout.illegal-transition": { category: "conflict" },
  "rollout.reason-required": { category: "validation" },
  "rollout.operator-required": { category: "forbidden" },
  "rollout.invalid-filter": { category: "validation" },
  "rollout.stop-all-active": { category: "conflict" },
  "rollout.stop-all-inactive": { category: "conflict" },
  "incident.not-found": { category: "not_found" },
  "incident.already-closed": { category: "conflict" },
  "incident.summary-required": { category: "validation" },
  // Agent operations, snapshots and health checks (src/agent/operations, src/snapshots, src/verify).
  "verify.unknown-placeholder": { category: "validation" },
  "verify.missing-label": { category: "validation" },
  "verify.invalid-url": { category: "validation" },
  "verify.invalid-timeout": { category: "validation" },
  "snapshot.unavailable": { category: "unsupported" },
  "snapshot.restore-failed": { category: "internal" },
  "agent.server-key-missing": { category: "validation" },
  "agent.artifact-digest-mismatch": { category: "validation" },
  "agent.artifact-signature-invalid": { category: "validation" },
  "agent.journal-unreadable": { category: "internal" },
  "artifact.not-a-deb": { category: "validation" },
  "artifact.invalid-control": { category: "validation" },
  "artifact.empty": { category: "validation" },
  "artifact.not-found": { category: "not_found" },
  "artifact.not-yours": { category: "forbidden" },
  "artifact.signing-unavailable": { category: "unsupported" },
  "artifact.mismatch": { category: "validation" },
  "agent.protocol-mismatch": { category: "validation" },
  "agent.operation-not-found": { category: "not_found" },
  "agent.operation-not-yours": { category: "forbidden" },
  "agent.operation-not-leased": { category: "conflict" },
  "agent.invalid-step": { category: "validation" },

  // Inventory and findings
  "inventory.unknown-release": { category: "validation" },
  "epss.older-file": { category: "conflict" },

  // Inventory and findings
  "inventory.delta-base-mismatch": { category: "conflict" },
  "inventory.delta-digest-mismatch": { category: "conflict" },
  // CLI and API
  "cli.label-exists": { category: "conflict" },
  "cli.bad-wait-condition": { category: "validation" },
  "cli.plan-file": { category: "validation" },
  "cli.plan-changed": { category: "conflict" },
  // CLI and API
  "config.unsafe-permissions": { category: "forbidden" },
  "config.invalid": { category: "validation" },
  "config.unknown-context": { category: "not_found" },
  "config.token-command-failed": { category: "validation" },
  "config.no-token": { category: "validation" },
  // CLI and API
  "policy.waves-over-100": { category: "validation" },
  "policy.freeze-ends-before-start": { category: "validation" },
  // CLI and API
  "request.unknown-query-parameter": { category: "validation" },
  "request.invalid-cursor": { category: "validation" },
} as const satisfies Record<string, ReasonSpec>;

export type ErrorReason = keyof typeof ERROR_REASONS;

export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === "string" && Object.hasOwn(ERROR_REASONS, value);
}
