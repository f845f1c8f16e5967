import { z } from "zod";
import { packageRecordSchema } from "../agent/protocol.js";
import { ERROR_CODES } from "../domain/errors.js";
import { ASSET_KINDS } from "../domain/inventory.js";

/** Response shapes shared by routes (and published in /openapi.json). */
export const assetSchema = z
  .object({
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
  })
  .meta({ id: "Asset" });

/** An asset as listed and shown: the distributions it reports packages of without a release. */
export const assetListEntrySchema = assetSchema
  .extend({ missingRelease: z.array(z.string()) })
  .meta({ id: "AssetListEntry" });

export const assetWithPackagesSchema = assetListEntrySchema
  .extend({ packages: z.array(packageRecordSchema) })
  .meta({ id: "AssetWithPackages" });

/** The one error envelope every refused request gets. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).describe("the category; it gives the HTTP status"),
      reason: z
        .string()
        .describe("the specific situation (src/domain/error-reasons.ts); compare this, never the message"),
      message: z.string(),
      where: z
        .string()
        .optional()
        .describe("a JSON pointer into the request (`/body/labels/k`, `/query/class`) or a file location"),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({
    id: "Error",
    description: "The error envelope",
    examples: [
      {
        error: {
          code: "validation",
          reason: "request.unknown-query-parameter",
          message: 'unknown query parameter "clas"; this route takes "class", "status"',
          where: "/query/clas",
        },
      },
    ],
  });

export const auditEventSchema = z
  .object({
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
  })
  .meta({ id: "AuditEvent" });
