import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { listAudit, verifyAuditChain } from "../../audit/log.js";
import type { ServiceContext } from "../../service/context.js";
import { auditEventSchema } from "../schemas.js";

export async function auditRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/api/v1/audit",
    {
      config: { access: "read" },
      schema: {
        summary: "Page through audit events in chain order",
        querystring: z.object({
          after: z.coerce.number().int().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
          targetType: z.string().optional(),
          targetId: z.string().optional(),
          action: z.string().optional(),
        }),
        response: { 200: z.object({ events: z.array(auditEventSchema), next: z.number().int().nullable() }) },
      },
    },
    async (request) => listAudit(ctx.store.db, request.query),
  );
  r.get(
    "/api/v1/audit/verify",
    {
      config: { access: "read" },
      schema: { summary: "Verify the whole hash chain; names the first broken event" },
    },
    async () => verifyAuditChain(ctx.store.db),
  );
}
