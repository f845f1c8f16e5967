import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { approveChange, rejectChange } from "../../changes/approvals.js";
import { changeInputSchema } from "../../changes/change-input.js";
import { changeRequestSchema } from "../../changes/change-request.js";
import { draftFromFindings } from "../../changes/from-findings.js";
import { planV2Schema } from "../../changes/plan.js";
import { getChangePlan, listChanges, readChange } from "../../changes/queries.js";
import { reviewChange } from "../../changes/review.js";
import { cancelChange, createChange, submitChange } from "../../changes/service.js";
import { CHANGE_CLASSES } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const params = z.object({ id: z.string().max(100) });
// Fastify hands a request without a body on as null.
const reasonBody = z.object({ reason: z.string().max(10_000).optional() }).nullish();

export async function changeRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const one = { 200: changeRequestSchema };

  r.post(
    "/api/v1/changes",
    {
      config: { access: "operate" },
      schema: {
        summary: "Create a change request (a draft)",
        body: changeInputSchema,
        response: { 201: changeRequestSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await createChange(ctx, actorOf(request), request.body)),
  );

  r.post(
    "/api/v1/changes/from-findings",
    {
      config: { access: "operate" },
      schema: {
        summary:
          "Draft one change per source package and fixed version needed by open findings of a class, listing the binaries it covers",
        body: z.object({
          class: z.enum(CHANGE_CLASSES),
          selector: z
            .string()
            .max(4000)
            .meta({ description: 'Label selector of the assets to consider; "" means every asset.' }),
          policy: z.string().min(1).optional(),
        }),
        response: {
          201: z.object({
            created: z.array(
              z.object({
                id: z.string(),
                package: z.string(),
                source: z.string(),
                packages: z.array(z.string()),
                version: z.string(),
                assets: z.array(z.string()),
                advisories: z.array(z.string()),
              }),
            ),
            skipped: z.array(
              z.object({
                package: z.string(),
                version: z.string().nullable(),
                assets: z.array(z.string()),
                reason: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await draftFromFindings(ctx, actorOf(request), request.body)),
  );

  r.get(
    "/api/v1/changes",
    {
      config: { access: "read" },
      schema: {
        summary: "List change requests, newest first",
        querystring: z.object({ state: z.string().optional(), ...pageQueryFields }),
        response: { 200: pageSchema(changeRequestSchema) },
      },
    },
    async (request) => {
      const { state, ...page } = request.query;
      const all = await listChanges(ctx, { state });
      return pageOf(all, { key: (c) => [c.createdAt, c.id], descending: [true, false] }, page);
    },
  );

  r.get(
    "/api/v1/changes/:id",
    { config: { access: "read" }, schema: { summary: "One change request", params, response: one } },
    async (request) => readChange(ctx, request.params.id),
  );

  r.get(
    "/api/v1/changes/:id/plan",
    {
      config: { access: "read" },
      schema: {
        summary: "The change's plan: frozen once scheduled, otherwise computed now without storing anything",
        params,
        response: { 200: planV2Schema },
      },
    },
    async (request) => getChangePlan(ctx, request.params.id),
  );

  const actions = [
    ["submit", "operate", "Submit a draft for approval", submitChange],
    ["approve", "approve", "Approve (counts under the pinned policy's approval rule)", approveChange],
    ["reject", "approve", "Reject", rejectChange],
    ["cancel", "operate", "Cancel (draft, submitted, approved or scheduled)", cancelChange],
    ["review", "approve", "Record the post-hoc review an emergency change owes", reviewChange],
  ] as const;
  for (const [action, access, summary, run] of actions) {
    r.post(
      `/api/v1/changes/:id/${action}`,
      { config: { access }, schema: { summary, params, body: reasonBody, response: one } },
      async (request) => run(ctx, actorOf(request), request.params.id, { reason: request.body?.reason }),
    );
  }
}
