import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  createPrincipal,
  listPrincipals,
  PRINCIPAL_KINDS,
  principalInfoSchema,
  setPrincipalDisabled,
} from "../../auth/principals.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

export async function principalRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/api/v1/principals",
    {
      config: { access: "admin" },
      schema: {
        summary: "List principals: the people and service accounts tokens belong to",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(principalInfoSchema) },
      },
    },
    async (request) => pageOf(await listPrincipals(ctx), { key: (p) => [p.name] }, request.query),
  );
  r.post(
    "/api/v1/principals",
    {
      config: { access: "admin" },
      schema: {
        summary: "Create a principal ahead of its tokens (e.g. a service account)",
        body: z.object({ name: z.string().min(1).max(100), kind: z.enum(PRINCIPAL_KINDS).optional() }),
        response: { 201: principalInfoSchema },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await createPrincipal(ctx, actorOf(request), request.body)),
  );
  for (const action of ["disable", "enable"] as const) {
    r.post(
      `/api/v1/principals/:name/${action}`,
      {
        config: { access: "admin" },
        schema: {
          summary:
            action === "disable"
              ? "Disable a principal: none of its tokens authenticate (refused for the last admin)"
              : "Enable a disabled principal again",
          params: z.object({ name: z.string().min(1).max(100) }),
          response: { 200: principalInfoSchema },
        },
      },
      async (request) =>
        setPrincipalDisabled(ctx, actorOf(request), request.params.name, action === "disable"),
    );
  }
}
