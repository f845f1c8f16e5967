import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { applyPolicy, getPolicy, listPolicies, listPolicyVersions } from "../../policy/store.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";
import { redactWebhookUrls } from "../redact-webhooks.js";
import { policyProposalRoutes } from "./policy-proposals.js";

const versionInfoSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  hash: z.string(),
  author: z.string(),
  createdAt: z.string(),
});

export async function policyRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // The other way to a new version: proposed by anyone who operates, approved by someone else.
  await policyProposalRoutes(app, ctx);

  r.post(
    "/api/v1/policies",
    {
      config: { access: "admin" },
      schema: {
        summary: "Apply a policy (YAML), admins only: a new version of its name unless it equals the latest",
        body: z.object({
          content: z.string().max(1_000_000),
          file: z.string().max(4096).optional().meta({ description: "The file name, for error locations." }),
        }),
        response: {
          200: versionInfoSchema.extend({ created: z.literal(false) }),
          201: versionInfoSchema.extend({ created: z.literal(true) }),
        },
      },
    },
    async (request, reply) => {
      const result = await applyPolicy(ctx, actorOf(request), request.body.content, request.body.file);
      return result.created
        ? reply.code(201).send({ ...result, created: true })
        : reply.code(200).send({ ...result, created: false });
    },
  );

  r.get(
    "/api/v1/policies",
    {
      config: { access: "read" },
      schema: {
        summary: "Every policy name with its latest version (the built-in `default` included)",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(versionInfoSchema.extend({ versions: z.number().int() })) },
      },
    },
    async (request) => pageOf(await listPolicies(ctx), { key: (p) => [p.name] }, request.query),
  );

  r.get(
    "/api/v1/policies/:name",
    {
      config: { access: "read" },
      schema: {
        summary: "One policy version (the latest unless ?version=) with its YAML and its other versions",
        params: z.object({ name: z.string() }),
        querystring: z.object({ version: z.coerce.number().int().min(1).optional() }),
        response: {
          200: versionInfoSchema.extend({
            content: z.string(),
            policy: z.record(z.string(), z.unknown()),
            versions: z.array(versionInfoSchema),
          }),
        },
      },
    },
    async (request) => {
      const found = await getPolicy(ctx, request.params.name, request.query.version);
      const versions = await listPolicyVersions(ctx, request.params.name);
      const shown = actorOf(request).role === "admin" ? found : { ...found, ...redactWebhookUrls(found) };
      return { ...shown, policy: shown.policy as Record<string, unknown>, versions };
    },
  );
}
