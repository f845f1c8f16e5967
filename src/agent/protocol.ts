import { z } from "zod";
import { ASSET_KINDS } from "../domain/inventory.js";

/** The agent protocol (v2: operations): shared by the server's routes and the host agent, one schema each way. */
export const AGENT_PROTOCOL_VERSION = 2;

export const packageRecordSchema = z.object({
  ecosystem: z.string().min(1).max(100),
  name: z.string().min(1).max(500),
  version: z.string().min(1).max(200),
  sourceName: z.string().max(500).nullish(),
  sourceVersion: z.string().max(200).nullish(),
  arch: z.string().max(50).nullish(),
  purl: z.string().max(2000).nullish(),
});

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
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const heartbeatRequestSchema = z.object({
  agentVersion: z.string().max(50).optional(),
  /** Fingerprint of the package database; the server asks for a report when it differs. */
  packagesFingerprint: z.string().max(200).optional(),
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
});
