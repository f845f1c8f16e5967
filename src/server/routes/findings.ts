import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { explainFinding } from "../../advisories/findings/explain.js";
import { FINDING_STATUSES, type Finding, findingSchema } from "../../advisories/findings/finding.js";
import { type FindingsQuery, getFinding, listFindings } from "../../advisories/findings/query.js";
import { rematchAll } from "../../advisories/findings/rematch.js";
import {
  acceptRisk,
  acceptRiskSchema,
  markNotAffected,
  notAffectedSchema,
  reopen,
  reopenSchema,
} from "../../advisories/findings/status.js";
import { getVulnerability } from "../../advisories/findings/vulnerability.js";
import { CHANGE_CLASSES } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { type Page, pageQueryFields, pageSchema } from "../lists/paging.js";

const findingPageSchema = pageSchema(findingSchema);

const listQuery = z.object({
  class: z.enum(CHANGE_CLASSES).optional(),
  status: z
    .enum([...FINDING_STATUSES, "all"])
    .optional()
    .describe("default: all but fixed"),
  selector: z.string().optional().describe("asset label selector, e.g. environment=prod,group in (web,api)"),
  overdue: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === "true")),
  vuln: z.string().min(1).optional().describe("a vulnerability id or any alias"),
  asset: z.string().min(1).optional(),
  ...pageQueryFields,
});

const factorSchema = z.object({
  name: z.string(),
  value: z.union([z.number(), z.boolean(), z.null()]),
  effect: z.number(),
  explanation: z.string(),
});

const deltaSchema = z.object({
  opened: z.number().int(),
  updated: z.number().int(),
  reopened: z.number().int(),
  fixed: z.number().int(),
  unchanged: z.number().int(),
  packages: z.number().int(),
  stats: z.object({
    evaluated: z.number().int(),
    gitRangesSkipped: z.number().int(),
    unsupportedEcosystems: z.number().int(),
    invalidVersions: z.number().int(),
  }),
});

const vulnerabilitySchema = z.object({
  id: z.string(),
  aliases: z.array(z.string()),
  advisories: z.array(
    z.object({
      id: z.string(),
      summary: z.string(),
      modified: z.string(),
      published: z.string().nullable(),
      withdrawn: z.string().nullable(),
      severity: z.object({ score: z.number().nullable(), vector: z.string().nullable() }),
    }),
  ),
  kev: z
    .object({
      cve: z.string(),
      name: z.string(),
      dateAdded: z.string(),
      dueDate: z.string().nullable(),
      ransomware: z.boolean(),
    })
    .nullable(),
  epss: z.object({ cve: z.string(), epss: z.number(), percentile: z.number() }).nullable(),
  items: z
    .array(findingSchema)
    .describe(
      "a page of its findings: open, accepted, not affected, then fixed; within each by asset and package",
    ),
  next: z.string().nullable().describe("pass as `cursor` for the next page; null on the last one"),
  counts: z
    .object({
      assets: z.number().int(),
      open: z.number().int(),
      acceptedRisk: z.number().int(),
      notAffected: z.number().int(),
      fixed: z.number().int(),
    })
    .describe("over all its findings, not the page: assets affected now, findings per status"),
});

const vulnerabilityQuery = z.object({ ...pageQueryFields });

/** Drops undefined values: the service's query type has no undefined-valued keys. */
function defined<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The findings query pages by its own key (risk, then id); its cursor goes through as `cursor`. */
async function findingsPage(
  ctx: ServiceContext,
  query: Omit<FindingsQuery, "after"> & { cursor?: string },
): Promise<Page<Finding>> {
  const { cursor, ...rest } = query;
  const page = await listFindings(ctx, cursor === undefined ? rest : { ...rest, after: cursor });
  return { items: page.findings, next: page.next };
}

export async function findingRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const idParams = z.object({ id: z.string() });

  r.get(
    "/api/v1/findings",
    {
      config: { access: "read" },
      schema: {
        summary:
          "List findings, highest risk first, filtered by class, status, asset selector, overdue, vulnerability or asset",
        querystring: listQuery,
        response: { 200: findingPageSchema },
      },
    },
    async (request) => findingsPage(ctx, defined(request.query)),
  );

  r.get(
    "/api/v1/findings/:id",
    {
      config: { access: "read" },
      schema: { summary: "One finding", params: idParams, response: { 200: findingSchema } },
    },
    async (request) => getFinding(ctx, request.params.id),
  );

  r.get(
    "/api/v1/findings/:id/explain",
    {
      config: { access: "read" },
      schema: {
        summary: "Why a finding has its score, class and due date: each risk factor with its effect",
        params: idParams,
        response: {
          200: z.object({
            finding: findingSchema,
            score: z.number(),
            factors: z.array(factorSchema),
            class: z.enum(CHANGE_CLASSES),
            classRule: z.string(),
            storedScore: z.number(),
            due: z.object({ at: z.string(), rule: z.string() }),
          }),
        },
      },
    },
    async (request) => explainFinding(ctx, request.params.id),
  );

  r.get(
    "/api/v1/vulnerabilities/:id",
    {
      config: { access: "read" },
      schema: {
        summary:
          "One vulnerability by CVE or any advisory id: its advisories, KEV and EPSS facts, the counts of the assets that have it, and a page of its findings",
        params: idParams,
        querystring: vulnerabilityQuery,
        response: { 200: vulnerabilitySchema },
      },
    },
    async (request) =>
      getVulnerability(ctx, request.params.id, {
        limit: request.query.limit,
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      }),
  );

  r.get(
    "/api/v1/assets/:name/findings",
    {
      config: { access: "read" },
      schema: {
        summary: "An asset's findings",
        params: z.object({ name: z.string() }),
        querystring: listQuery.omit({ asset: true }),
        response: { 200: findingPageSchema },
      },
    },
    async (request) => findingsPage(ctx, { ...defined(request.query), asset: request.params.name }),
  );

  r.post(
    "/api/v1/findings/:id/accept-risk",
    {
      config: { access: "approve" },
      schema: {
        summary:
          "Accept a finding's risk (approvers and admins) with a reason, until an expiry or a review date (ISO 8601 or a duration such as 30d; at most a year)",
        params: idParams,
        body: acceptRiskSchema,
        response: { 200: findingSchema },
      },
    },
    async (request) => acceptRisk(ctx, actorOf(request), request.params.id, request.body),
  );

  r.post(
    "/api/v1/findings/:id/not-affected",
    {
      config: { access: "approve" },
      schema: {
        summary:
          "State that a finding does not apply (approvers and admins): a VEX justification, a statement, and an expiry or a review date",
        params: idParams,
        body: notAffectedSchema,
        response: { 200: findingSchema },
      },
    },
    async (request) => markNotAffected(ctx, actorOf(request), request.params.id, request.body),
  );

  r.post(
    "/api/v1/findings/:id/reopen",
    {
      config: { access: "operate" },
      schema: {
        summary: "Reopen an accepted or not-affected finding",
        params: idParams,
        body: reopenSchema,
        response: { 200: findingSchema },
      },
    },
    async (request) => reopen(ctx, actorOf(request), request.params.id, request.body.reason),
  );

  r.post(
    "/api/v1/findings/rematch",
    {
      config: { access: "operate" },
      schema: {
        summary: "Re-match the whole fleet against every advisory; returns what changed",
        response: { 200: deltaSchema },
      },
    },
    async (request) => rematchAll(ctx, { actor: actorOf(request) }),
  );
}
