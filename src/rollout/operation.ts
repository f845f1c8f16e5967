import { createHash } from "node:crypto";
import { z } from "zod";
import type { HealthCheck } from "../policy/schema.js";
import { checkResultSchema, resolvedHealthCheckSchema } from "../verify/check-types.js";
import { OPERATION_ACTIONS, OPERATION_STEPS, type OperationAction } from "./model.js";

/** Operation ids derive from their idempotency key: the same key is the same operation everywhere. */
export function operationIdFor(key: string): string {
  return `op-${createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
}

/** Where the host gets a package file: the server's artifact store, checked by sha256 and signature. */
export const artifactRefSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  fileName: z.string().min(1).max(255),
  package: z.string().min(1).max(200),
  version: z.string().min(1).max(200),
  arch: z.string().min(1).max(50),
  size: z.number().int().nonnegative(),
  /** base64 ed25519 signature over the sha256 hex digest, by the server's key pinned at enrollment. */
  signature: z.string().min(1).max(200),
});
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/** The pre-patch state of the packages an install changes, and where to get their .debs back. */
export const snapshotSchema = z.object({
  provider: z.string(),
  takenAt: z.string(),
  packages: z.array(
    z.object({
      name: z.string(),
      /** null: not installed before (a rollback removes it). */
      version: z.string().nullable(),
      arch: z.string().nullable(),
      /** A copy of the pre-patch .deb: in the artifact store (sha256) or kept on the host (path). */
      artifactSha256: z.string().nullable(),
      hostPath: z.string().nullable(),
    }),
  ),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

/** What an operation asks the host to do. */
export const operationPayloadSchema = z.object({
  /** patch: snapshot, install `artifact`, read the version back, run the checks. */
  artifact: artifactRefSchema.optional(),
  /** patch: the files of the change's other binaries; those installed on the host go in the same dpkg call. */
  alsoArtifacts: z.array(artifactRefSchema).optional(),
  package: z.string(),
  toVersion: z.string().optional(),
  /** revert: the snapshot to return to (the patch operation's result). */
  snapshot: snapshotSchema.optional(),
  /** Pre-patch .debs the server holds, offered so the host need not rebuild them. */
  rollbackArtifacts: z.array(artifactRefSchema).default([]),
  snapshotProvider: z.string().default("dpkg"),
  snapshotRequired: z.boolean().default(true),
  healthChecks: z.array(resolvedHealthCheckSchema).default([]),
});
export type OperationPayload = z.infer<typeof operationPayloadSchema>;

export const operationResultSchema = z.object({
  ok: z.boolean(),
  /** The package's version read back from the host's package database after the operation. */
  installedVersion: z.string().nullable(),
  snapshot: snapshotSchema.optional(),
  checks: z.array(checkResultSchema).default([]),
  error: z.string().max(4000).optional(),
  /** True when the host answered from its journal: it had run this operation already. */
  replayed: z.boolean().default(false),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type OperationResult = z.infer<typeof operationResultSchema>;

/** What became of an operation, as the executor observed it. */
export type OperationOutcome =
  | { status: "pending" }
  | { status: "running"; step: string | null }
  | { status: "succeeded"; result: OperationResult }
  | { status: "failed"; result: OperationResult | null; error: string }
  /** The host stopped answering while it held the operation (e.g. no heartbeat for two intervals). */
  | { status: "lost"; error: string };

/** An operation as an executor sees it. */
export interface OperationSpec {
  id: string;
  key: string;
  rolloutId: string;
  changeId: string;
  assetId: string;
  assetName: string;
  action: OperationAction;
  attempt: number;
  payload: OperationPayload;
}

/** What the agent receives from its long-poll. */
export const leasedOperationSchema = z.object({
  id: z.string(),
  key: z.string(),
  action: z.enum(OPERATION_ACTIONS),
  payload: operationPayloadSchema,
  leaseExpiresAt: z.string(),
  /**
   * The server takes the host's inventory delta inside this operation's result (one request fewer):
   * an agent sends it there only when this says so, so it never loses a report to an older server.
   */
  inventoryInResult: z.boolean().optional(),
});
export type LeasedOperation = z.infer<typeof leasedOperationSchema>;

export const operationProgressSchema = z.object({ step: z.enum(OPERATION_STEPS) });

export type { CheckContext, CheckResult, ResolvedHealthCheck } from "../verify/check-types.js";
export type { HealthCheck };
export { checkResultSchema, resolvedHealthCheckSchema };
