import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  createEnrollmentToken,
  enrollmentTokenInfoSchema,
  getEnrollmentToken,
  listEnrollmentTokens,
  MAX_ENROLLMENT_TTL_SECONDS,
  revokeEnrollmentToken,
} from "../../auth/enrollment-tokens.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const params = z.object({ id: z.string().min(1).max(100) });

/** Enrollment tokens, which agents exchange for their own credentials: admins only. */
export async function agentTokenRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/api/v1/agent-tokens",
    {
      config: { access: "admin" },
      schema: {
        summary:
          "Create an enrollment token for agents (one-time unless reusable; expires, a day by default)",
        // Fastify hands a request without a body on as null.
        body: z
          .object({
            reusable: z.boolean().optional(),
            ttlSeconds: z.number().int().min(1).max(MAX_ENROLLMENT_TTL_SECONDS).optional(),
          })
          .nullish(),
        response: { 201: z.object({ id: z.string(), token: z.string(), expiresAt: z.string() }) },
      },
    },
    async (request, reply) => {
      const { reusable, ttlSeconds } = request.body ?? {};
      const created = await createEnrollmentToken(ctx, actorOf(request), {
        ...(reusable === undefined ? {} : { reusable }),
        ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      });
      return reply.code(201).send(created);
    },
  );
  r.get(
    "/api/v1/agent-tokens",
    {
      config: { access: "admin" },
      schema: {
        summary: "List enrollment tokens (never their secrets) with the latest assets each enrolled",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(enrollmentTokenInfoSchema) },
      },
    },
    async (request) =>
      pageOf(
        await listEnrollmentTokens(ctx),
        { key: (t) => [t.createdAt, t.id], descending: [true, false] },
        request.query,
      ),
  );
  r.get(
    "/api/v1/agent-tokens/:id",
    {
      config: { access: "admin" },
      schema: {
        summary: "One enrollment token with every asset it enrolled",
        params,
        response: { 200: enrollmentTokenInfoSchema },
      },
    },
    async (request) => getEnrollmentToken(ctx, request.params.id),
  );
  r.delete(
    "/api/v1/agent-tokens/:id",
    {
      config: { access: "admin" },
      schema: { summary: "Revoke an enrollment token (enrolled agents keep their credentials)", params },
    },
    async (request, reply) => {
      await revokeEnrollmentToken(ctx, actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
}
