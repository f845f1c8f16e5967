import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  closeIncident,
  incidentViewSchema,
  listIncidents,
  showIncident,
} from "../../rollout/incident-commands.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const params = z.object({ id: z.string().max(100) });

export async function incidentRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    "/api/v1/incidents",
    {
      config: { access: "read" },
      schema: {
        summary: "List incidents, newest first",
        querystring: z.object({
          state: z.string().max(20).optional(),
          change: z.string().max(100).optional(),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(incidentViewSchema) },
      },
    },
    async (request) => {
      const { state, change, ...page } = request.query;
      const all = await listIncidents(ctx, { state, change });
      return pageOf(all, { key: (i) => [i.openedAt, i.id], descending: [true, false] }, page);
    },
  );

  r.get(
    "/api/v1/incidents/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "One incident (by its id, its rollout's or its change's)",
        params,
        response: { 200: incidentViewSchema },
      },
    },
    async (request) => showIncident(ctx, request.params.id),
  );

  r.post(
    "/api/v1/incidents/:id/close",
    {
      config: { access: "operate" },
      schema: {
        summary: "Close the incident's post-mortem with its summary",
        params,
        // The summary is required; the service says so with a reason of its own.
        body: z.object({ summary: z.string().max(100_000).optional() }).nullish(),
        response: { 200: incidentViewSchema },
      },
    },
    async (request) => closeIncident(ctx, actorOf(request), request.params.id, request.body?.summary),
  );
}
