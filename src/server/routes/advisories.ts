import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  advisoryDetailSchema,
  advisorySummarySchema,
  getAdvisory,
  listAdvisories,
} from "../../advisories/catalog.js";
import { parseEpssCsv } from "../../advisories/epss.js";
import {
  batchResultSchema,
  importAdvisoryBatch,
  MAX_BATCH_RECORDS,
} from "../../advisories/ingest/import-batch.js";
import { epssSummarySchema, importEpss } from "../../advisories/ingest/import-epss.js";
import { importKev, kevSummarySchema } from "../../advisories/ingest/import-kev.js";
import { kevCatalogSchema } from "../../advisories/kev.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { decodeSingleCursor, encodeCursor, pageQueryFields, pageSchema } from "../lists/paging.js";

export async function advisoryRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    "/api/v1/advisories/batch",
    {
      config: { access: "operate" },
      schema: {
        summary:
          "Import a batch of OSV records: each malformed record is rejected with a JSON pointer, the rest are imported",
        body: z.object({
          source: z.string().min(1).max(1000),
          records: z.array(z.unknown()).max(MAX_BATCH_RECORDS),
        }),
        response: { 200: batchResultSchema },
      },
    },
    async (request) => importAdvisoryBatch(ctx, actorOf(request), request.body),
  );

  r.post(
    "/api/v1/advisories/kev",
    {
      config: { access: "operate" },
      schema: {
        summary:
          "Replace the KEV set with CISA's known_exploited_vulnerabilities.json catalog; an older catalog or a mass removal needs ?force=true",
        querystring: z.object({
          force: z.enum(["true", "false"]).optional(),
        }),
        body: kevCatalogSchema,
        response: { 200: kevSummarySchema },
      },
    },
    async (request) =>
      importKev(ctx, actorOf(request), request.body, { force: request.query.force === "true" }),
  );

  r.post(
    "/api/v1/advisories/epss",
    {
      config: { access: "operate" },
      schema: {
        summary:
          "Replace the EPSS scores with FIRST's daily CSV or a KEV_EPSS CSV (CVEs it leaves out lose their score); an older file needs ?force=true",
        querystring: z.object({
          force: z.enum(["true", "false"]).optional(),
        }),
        body: z.object({ csv: z.string(), file: z.string().min(1).max(1000).optional() }),
        response: { 200: epssSummarySchema },
      },
    },
    async (request) => {
      const file = request.body.file ?? "epss.csv";
      return importEpss(ctx, actorOf(request), parseEpssCsv(request.body.csv, file), file, {
        force: request.query.force === "true",
      });
    },
  );

  r.get(
    "/api/v1/advisories",
    {
      config: { access: "read" },
      schema: {
        summary: "List advisories by ecosystem, package or id/alias, in id order",
        querystring: z.object({
          ecosystem: z.string().max(200).optional(),
          package: z.string().max(1000).optional(),
          id: z.string().max(200).optional(),
          after: z.string().max(200).optional().describe("only advisories whose id sorts after this one"),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(advisorySummarySchema) },
      },
    },
    async (request) => {
      const { cursor, after: from, ...query } = request.query;
      const last = cursor === undefined ? undefined : decodeSingleCursor(cursor, "string");
      const after = last === undefined || (from !== undefined && from > last) ? from : last;
      const page = await listAdvisories(ctx, after === undefined ? query : { ...query, after });
      return { items: page.advisories, next: page.next === null ? null : encodeCursor([page.next]) };
    },
  );

  r.get(
    "/api/v1/advisories/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "One advisory (by id or its only alias) with its record and its CVEs' KEV and EPSS facts",
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: advisoryDetailSchema },
      },
    },
    async (request) => getAdvisory(ctx, request.params.id),
  );
}
