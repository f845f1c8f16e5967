import { z } from "zod";
import { ERROR_CODES } from "../domain/errors.js";

/** Response shapes shared by routes (and published in /openapi.json); domain types keep their own. */
export { assetSchema } from "../domain/inventory.js";
export { assetListEntrySchema, assetWithPackagesSchema } from "../inventory/assets.js";

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

export { auditEventSchema } from "../audit/event.js";
