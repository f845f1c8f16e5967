import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  abortRollout,
  pauseRollout,
  promoteRollout,
  resumeAll,
  resumeRollout,
  retryAsset,
  skipAsset,
  stopAll,
} from "../../rollout/controls.js";
import {
  listRollouts,
  rolloutSummarySchema,
  rolloutViewSchema,
  showRollout,
  stopAllViewSchema,
} from "../../rollout/queries.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const stopAllResultSchema = z.object({
  stopAll: stopAllViewSchema.nullable(),
  rollouts: z.array(z.string()),
});

const params = z.object({ id: z.string().max(100) });
const assetParams = z.object({ id: z.string().max(100), asset: z.string().max(300) });
// The reason is required; the service says so with a reason of its own, so the schema lets it through.
const reasonBody = z.object({ reason: z.string().max(10_000).optional() }).nullish();

export async function rolloutRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const one = { 200: rolloutViewSchema };

  r.get(
    "/api/v1/rollouts",
    {
      config: { access: "read" },
      schema: {
        summary: "List rollouts, newest first",
        querystring: z.object({
          state: z.string().max(50).optional(),
          change: z.string().max(100).optional(),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(rolloutSummarySchema) },
      },
    },
    async (request) => {
      const { state, change, ...page } = request.query;
      const all = await listRollouts(ctx, { state, change, limit: 5000 });
      return pageOf(all, { key: (r) => [r.createdAt, r.id], descending: [true, false] }, page);
    },
  );

  r.get(
    "/api/v1/rollouts/:id",
    {
      config: { access: "read" },
      schema: { summary: "One rollout (by its id or its change's id)", params, response: one },
    },
    async (request) => showRollout(ctx, request.params.id),
  );

  const controls = [
    ["pause", "Pause: nothing new is dispatched; operations in flight end", pauseRollout],
    ["resume", "Resume a paused rollout", resumeRollout],
    ["abort", "Abort: roll back every asset the rollout touched, then end aborted", abortRollout],
    [
      "promote",
      "End the current phase's observation early (its health gate still has to pass)",
      promoteRollout,
    ],
  ] as const;
  for (const [name, summary, run] of controls) {
    r.post(
      `/api/v1/rollouts/:id/${name}`,
      { config: { access: "operate" }, schema: { summary, params, body: reasonBody, response: one } },
      async (request) => run(ctx, actorOf(request), request.params.id, { reason: request.body?.reason }),
    );
  }

  const assetControls = [
    ["retry", "Retry a failed or reverted asset (a new attempt)", retryAsset],
    ["skip", "Skip a pending or failed asset", skipAsset],
  ] as const;
  for (const [name, summary, run] of assetControls) {
    r.post(
      `/api/v1/rollouts/:id/assets/:asset/${name}`,
      {
        config: { access: "operate" },
        schema: { summary, params: assetParams, body: reasonBody, response: one },
      },
      async (request) =>
        run(ctx, actorOf(request), request.params.id, {
          reason: request.body?.reason,
          asset: request.params.asset,
        }),
    );
  }

  r.post(
    "/api/v1/rollouts/stop-all",
    {
      config: { access: "operate" },
      schema: {
        summary: "Emergency stop: pause every rollout in progress and start none until resume-all",
        body: reasonBody,
        response: { 200: stopAllResultSchema },
      },
    },
    async (request) => stopAll(ctx, actorOf(request), { reason: request.body?.reason }),
  );

  r.post(
    "/api/v1/rollouts/resume-all",
    {
      config: { access: "operate" },
      schema: {
        summary: "Lift the emergency stop",
        body: reasonBody,
        response: { 200: stopAllResultSchema },
      },
    },
    async (request) => resumeAll(ctx, actorOf(request), { reason: request.body?.reason }),
  );
}
