import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { sql } from "kysely";
import type { ServiceContext } from "../../service/context.js";

/** Liveness and readiness: the only routes without a token. */
export async function healthRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get("/healthz", { config: { access: "public" }, schema: { hide: true } }, async () => ({ status: "ok" }));
  r.get("/readyz", { config: { access: "public" }, schema: { hide: true } }, async (_request, reply) => {
    try {
      await sql`select 1`.execute(ctx.store.db);
      return { status: "ready" };
    } catch {
      return reply.code(503).send({ status: "database unavailable" });
    }
  });
}
