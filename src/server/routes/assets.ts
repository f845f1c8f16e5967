import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { assetPatchSchema, deleteAsset, getAsset, listAssets, updateAsset } from "../../inventory/assets.js";
import { allowReenrollment, MAX_REENROLL_TTL_SECONDS } from "../../inventory/reenrollment.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";
import { assetListEntrySchema, assetSchema, assetWithPackagesSchema } from "../schemas.js";

export async function assetRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const params = z.object({ name: z.string() });

  r.get(
    "/api/v1/assets",
    {
      config: { access: "read" },
      schema: {
        summary: "List assets, optionally filtered by a label selector",
        querystring: z.object({
          selector: z
            .string()
            .optional()
            .describe("a label selector, e.g. environment=prod,group in (web,api)"),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(assetListEntrySchema) },
      },
    },
    async (request) => {
      const { selector, ...page } = request.query;
      const all = await listAssets(ctx, selector ? { selector } : {});
      return pageOf(all, { key: (a) => [a.name] }, page);
    },
  );

  r.get(
    "/api/v1/assets/:name",
    {
      config: { access: "read" },
      schema: {
        summary: "One asset with its installed packages",
        params,
        response: { 200: assetWithPackagesSchema },
      },
    },
    async (request) => getAsset(ctx, request.params.name),
  );

  r.patch(
    "/api/v1/assets/:name",
    {
      config: { access: "operate" },
      schema: {
        summary: "Change labels, owner, criticality or placement",
        params,
        body: assetPatchSchema,
        response: { 200: assetSchema },
      },
    },
    async (request) => updateAsset(ctx, actorOf(request), request.params.name, request.body),
  );

  r.delete(
    "/api/v1/assets/:name",
    { config: { access: "admin" }, schema: { summary: "Delete an asset and its inventory", params } },
    async (request, reply) => {
      await deleteAsset(ctx, actorOf(request), request.params.name);
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/v1/assets/:name/reenroll",
    {
      config: { access: "admin" },
      schema: {
        summary: "Allow one agent to enroll as this existing asset (single-use; expires, a day by default)",
        params,
        body: z
          .object({ ttlSeconds: z.number().int().min(1).max(MAX_REENROLL_TTL_SECONDS).optional() })
          .nullish(),
        response: { 200: z.object({ id: z.string(), asset: z.string(), expiresAt: z.string() }) },
      },
    },
    async (request) => {
      const ttlSeconds = request.body?.ttlSeconds;
      return allowReenrollment(
        ctx,
        actorOf(request),
        request.params.name,
        ttlSeconds === undefined ? {} : { ttlSeconds },
      );
    },
  );
}
