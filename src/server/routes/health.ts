import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { sql } from "kysely";
import { z } from "zod";
import type { ServiceContext } from "../../service/context.js";

/** Liveness and readiness: the only routes without a token. */
export async function healthRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/healthz",
    {
      config: { access: "public" },
      schema: {
        operationId: "getHealthz",
        summary: "Liveness: the process answers",
        response: { 200: z.object({ status: z.literal("ok") }).meta({ examples: [{ status: "ok" }] }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  const readiness = z.object({ status: z.string() });
  r.get(
    "/readyz",
    {
      config: { access: "public" },
      schema: {
        operationId: "getReadyz",
        summary: "Readiness: the database answers",
        response: {
          200: readiness.meta({ examples: [{ status: "ready" }] }),
          503: readiness.meta({ examples: [{ status: "database unavailable" }] }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await sql`select 1`.execute(ctx.store.db);
        return { status: "ready" };
      } catch {
        return reply.code(503).send({ status: "database unavailable" });
      }
    },
  );
}
