import { z } from "zod";
import { ASSET_KINDS, packageRecordSchema } from "../domain/inventory.js";

/**
 * The agent protocol: shared by the server's routes and the host agent, one schema each way. Version 2
 * adds operations (long-poll, progress, result), artifacts and the server's public key at enrollment.
 */
export const AGENT_PROTOCOL_VERSION = 2;

/** Sent by agents on every request; the server refuses another major version (agent.protocol-mismatch). */
export const AGENT_PROTOCOL_HEADER = "x-autopatch-agent-protocol";

/**
 * Set on a long-poll's answer (200 or 204) when the server recorded it as the agent's heartbeat: the
 * agent then skips its own heartbeats for three quarters of an interval after it. Absent from older servers, whose
 * agents heartbeat as before.
 */
export const POLL_HEARTBEAT_HEADER = "x-autopatch-poll-heartbeat";

// The package shape lives with the domain types; the protocol names it for its users.
export { packageRecordSchema };

export const enrollRequestSchema = z.object({
  name: z.string().min(1).max(253),
  hostname: z.string().max(253).optional(),
  kind: z.enum(ASSET_KINDS).optional(),
  environment: z.string().max(63).optional(),
  group: z.string().max(63).optional(),
  region: z.string().max(63).optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const enrollResponseSchema = z.object({
  assetId: z.string(),
  assetName: z.string(),
  /** The agent's own credential; shown once, kept by the agent with mode 0600. */
  credential: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  /**
   * The server's ed25519 public key (SPKI PEM) that signs artifacts: the agent pins it at enrollment.
   * Absent only from a server that has no signing key, which then stores no artifacts either.
   */
  serverPublicKey: z.string().min(1).optional(),
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const heartbeatRequestSchema = z.object({
  agentVersion: z.string().max(50).optional(),
  /** Fingerprint of the package database; the server asks for a report when it differs. */
  packagesFingerprint: z.string().max(200).optional(),
  /** Digest of the package set the agent last reported (src/domain/package-set.ts): a full report is wanted when the server's differs. */
  packagesDigest: z.string().max(200).optional(),
});

export const heartbeatResponseSchema = z.object({
  heartbeatIntervalMs: z.number().int().positive(),
  /** True when the server has no inventory for this asset yet. */
  inventoryWanted: z.boolean(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;

export const inventoryReportSchema = z.object({
  packages: z.array(packageRecordSchema).max(200_000),
  packagesFingerprint: z.string().max(200).optional(),
});
export type InventoryReport = z.infer<typeof inventoryReportSchema>;

export const reportSummarySchema = z.object({
  total: z.number().int(),
  added: z.number().int(),
  removed: z.number().int(),
  changed: z.number().int(),
  unchanged: z.boolean(),
  /** Digest of the package set the server now holds: the base of the agent's next delta. */
  digest: z.string().optional(),
});

/** The changes since the set the server acknowledged (PATCH /api/v1/agent/inventory); 409 asks for a full report. */
export const inventoryDeltaSchema = z.object({
  base: z.string().min(1).max(200),
  digest: z.string().min(1).max(200),
  added: z.array(packageRecordSchema).max(200_000),
  removed: z
    .array(
      z.object({
        ecosystem: z.string().min(1).max(100),
        name: z.string().min(1).max(500),
        version: z.string().min(1).max(200),
        arch: z.string().max(50).nullish(),
      }),
    )
    .max(200_000),
});
export type InventoryDeltaReport = z.infer<typeof inventoryDeltaSchema>;
