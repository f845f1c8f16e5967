import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { apiTokenInfoSchema, createApiToken, listApiTokens, revokeApiToken } from "../../auth/tokens.js";
import { ROLES } from "../../domain/roles.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

export async function tokenRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/api/v1/tokens",
    {
      config: { access: "admin" },
      schema: {
        summary:
          "Create an API token for a principal (the one named `name` unless `principal` is given; created when missing); the token is in this response only",
        body: z.object({
          name: z.string().min(1).max(100),
          role: z.enum(ROLES),
          principal: z.string().min(1).max(100).optional(),
        }),
        response: {
          201: z.object({ id: z.string(), token: z.string(), name: z.string(), principal: z.string() }),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await createApiToken(ctx, actorOf(request), request.body)),
  );
  r.get(
    "/api/v1/tokens",
    {
      config: { access: "admin" },
      schema: {
        summary: "List tokens (never their secrets)",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(apiTokenInfoSchema) },
      },
    },
    async (request) =>
      pageOf(
        await listApiTokens(ctx),
        { key: (t) => [t.createdAt, t.id], descending: [true, false] },
        request.query,
      ),
  );
  r.delete(
    "/api/v1/tokens/:id",
    {
      config: { access: "admin" },
      schema: {
        summary: "Revoke a token; the last active admin token cannot be revoked",
        params: z.object({ id: z.string() }),
      },
    },
    async (request, reply) => {
      await revokeApiToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
}
