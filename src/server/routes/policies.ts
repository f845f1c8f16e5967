import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  afterPolicyVersion,
  settleFindingsRedating,
  useFindingsPolicy,
} from "../../advisories/findings/choose-policy.js";
import { governingVersion } from "../../advisories/findings/findings-policy.js";
import { defaultPolicyYaml } from "../../policy/default-policy.js";
import { policyDiffSchema } from "../../policy/diff.js";
import { policyContentHash } from "../../policy/loader.js";
import { policySelection } from "../../policy/selection.js";
import {
  applyPolicy,
  getPolicy,
  listPolicies,
  listPolicyVersions,
  policyVersionInfoSchema,
} from "../../policy/store.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";
import { redactWebhookUrls } from "../redact-webhooks.js";
import { policyProposalRoutes } from "./policy-proposals.js";

const findingsPolicySchema = z.object({
  name: z
    .string()
    .nullable()
    .meta({ description: "The chosen policy; null while the built-in one governs." }),
  version: z.number().int().nullable(),
  hash: z.string(),
  chosenBy: z.string().nullable(),
  chosenAt: z.string().nullable(),
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
          200: policyVersionInfoSchema.extend({ created: z.literal(false), diff: policyDiffSchema }),
          201: policyVersionInfoSchema.extend({ created: z.literal(true), diff: policyDiffSchema }),
        },
      },
    },
    async (request, reply) => {
      const result = await applyPolicy(
        ctx,
        actorOf(request),
        request.body.content,
        request.body.file,
        afterPolicyVersion,
      );
      if (result.created) await settleFindingsRedating(ctx);
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
        response: {
          200: pageSchema(
            policyVersionInfoSchema.extend({
              versions: z.number().int(),
              findings: z.boolean().meta({ description: "Chosen to classify findings and set due dates." }),
            }),
          ),
        },
      },
    },
    async (request) => pageOf(await listPolicies(ctx), { key: (p) => [p.name] }, request.query),
  );

  r.get(
    "/api/v1/findings-policy",
    {
      config: { access: "read" },
      schema: {
        summary: "The policy that classifies findings and sets their SLA due dates",
        response: { 200: findingsPolicySchema },
      },
    },
    async () => findingsPolicyShown(ctx),
  );

  r.put(
    "/api/v1/findings-policy",
    {
      config: { access: "admin" },
      schema: {
        summary:
          "Choose the stored policy whose latest version classifies findings and sets their due dates, admins only",
        body: z.object({ name: z.string().max(63) }),
        response: {
          200: z.object({
            purpose: z.string(),
            name: z.string(),
            version: z.number().int(),
            hash: z.string(),
            previous: z.string().nullable(),
            changed: z.boolean(),
          }),
        },
      },
    },
    async (request) => useFindingsPolicy(ctx, actorOf(request), request.body.name),
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
          200: policyVersionInfoSchema.extend({
            content: z.string(),
            policy: z.record(z.string(), z.unknown()),
            versions: z.array(policyVersionInfoSchema),
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

/** The governing version, or the built-in policy (hash of its text) while none is chosen. */
async function findingsPolicyShown(ctx: ServiceContext) {
  const [governing, chosen] = [await governingVersion(ctx.store.db), await policySelection(ctx.store.db)];
  if (governing === null || chosen === undefined) {
    return {
      name: null,
      version: null,
      hash: policyContentHash(defaultPolicyYaml()),
      chosenBy: null,
      chosenAt: null,
    };
  }
  return {
    name: governing.name,
    version: governing.version,
    hash: governing.hash,
    chosenBy: chosen.chosenBy,
    chosenAt: chosen.chosenAt,
  };
}
