import { z } from "zod";
import { packageRecordSchema } from "../agent/protocol.js";
import { ASSET_KINDS } from "../domain/inventory.js";

/** Response shapes shared by routes (and published in /openapi.json). */
export const assetSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(ASSET_KINDS),
  environment: z.string(),
  group: z.string(),
  region: z.string(),
  owner: z.string(),
  criticality: z.number().int(),
  labels: z.record(z.string(), z.string()),
  agentStatus: z.enum(["none", "active", "stale"]),
  createdAt: z.string(),
  lastSeen: z.string().nullable(),
});

/** An asset as listed and shown: the distributions it reports packages of without a release. */
export const assetListEntrySchema = assetSchema.extend({ missingRelease: z.array(z.string()) });

export const assetWithPackagesSchema = assetListEntrySchema.extend({
  packages: z.array(packageRecordSchema),
});

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), where: z.string().optional() }),
});

export const auditEventSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  reason: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
