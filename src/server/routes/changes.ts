import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { approveChange, rejectChange } from "../../changes/approvals.js";
import { changeInputSchema } from "../../changes/change-input.js";
import { draftFromFindings } from "../../changes/from-findings.js";
import { CHANGE_STATES } from "../../changes/lifecycle.js";
import { getChangePlan, listChanges, readChange } from "../../changes/queries.js";
import { reviewChange } from "../../changes/review.js";
import { cancelChange, createChange, submitChange } from "../../changes/service.js";
import { CHANGE_CLASSES, VerificationSchema } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const approvalRuleSchema = z.object({
  required: z.number().int(),
  fromRoles: z.array(z.string()),
  separationOfDuties: z.boolean(),
  expiresAfterMs: z.number(),
  postReviewWithinMs: z.number().nullable(),
  justificationRequired: z.boolean(),
  environments: z.array(z.string()),
  emergency: z
    .object({
      evidence: z.array(
        z.object({
          finding: z.string(),
          vulnId: z.string(),
          asset: z.string(),
          knownExploited: z.boolean(),
          class: z.string(),
        }),
      ),
      confirmationRequired: z.boolean(),
    })
    .nullable()
    .meta({
      description:
        "For an emergency: the known-exploited or emergency-class findings that back it, or that an approver must confirm it",
    }),
});

const planSummarySchema = z.object({
  start: z.string().nullable(),
  window: z.string().nullable(),
  reason: z.string(),
  phases: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["canary", "wave"]),
      assets: z.number().int(),
      start: z.string(),
    }),
  ),
  assets: z.number().int(),
  skipped: z.number().int(),
  estimatedEnd: z.string().nullable(),
  totalFailureBudget: z.number(),
  warnings: z.array(z.string()),
});

export const changeRequestSchema = z.object({
  id: z.string(),
  title: z.string(),
  state: z.enum(CHANGE_STATES),
  stateReason: z.string().nullable(),
  patch: z.object({
    package: z.string(),
    alsoPackages: z.array(z.string()),
    version: z.string(),
    artifact: z.object({ name: z.string(), sha256: z.string() }).nullable(),
    alsoArtifacts: z.array(z.object({ package: z.string(), name: z.string(), sha256: z.string() })),
    source: z.string().nullable(),
    advisories: z.array(z.string()),
    ticket: z.string().nullable(),
  }),
  selector: z.string(),
  class: z.enum(CHANGE_CLASSES),
  emergency: z.boolean(),
  policy: z.object({ name: z.string(), version: z.number().int(), hash: z.string() }),
  justification: z.string(),
  risk: z.string().nullable(),
  rollback: z.string().nullable(),
  requester: z.string(),
  requesterPrincipal: z.string(),
  approvalRule: approvalRuleSchema.nullable(),
  approvals: z.array(
    z.object({
      approver: z.string(),
      principal: z.string(),
      role: z.string(),
      decision: z.enum(["approve", "reject"]),
      reason: z.string().nullable(),
      at: z.string(),
      expiresAt: z.string().nullable(),
      valid: z.boolean(),
    }),
  ),
  validApprovals: z.number().int(),
  overrideApprover: z.string().nullable(),
  scheduledStart: z.string().nullable(),
  review: z.object({
    state: z.enum(["not-required", "pending", "overdue", "done"]),
    dueAt: z.string().nullable(),
    by: z.string().nullable(),
    at: z.string().nullable(),
    reason: z.string().nullable(),
  }),
  plan: planSummarySchema.nullable(),
  rolloutId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const planGateSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("health") }),
  z.object({ kind: z.literal("failure-budget"), max: z.number() }),
  z.object({ kind: z.literal("observation"), ms: z.number() }),
  z.object({ kind: z.literal("soak"), ms: z.number(), nextRing: z.string() }),
  z.object({ kind: z.literal("exact-promotion"), fromRing: z.string(), toRing: z.string() }),
  z.object({ kind: z.literal("final-verification") }),
  z.object({ kind: z.literal("progress-deadline"), ms: z.number() }),
]);

const placementCounts = z.record(z.string(), z.number().int());

/** PlanV2 (src/changes/plan.ts): what `change plan --json` prints. */
export const planSchema = z.object({
  version: z.literal(2),
  policy: z.object({ name: z.string(), version: z.number().int(), hash: z.string() }),
  selector: z.string(),
  emergency: z.boolean(),
  timezone: z.string(),
  createdAt: z.string(),
  patch: z.object({
    ecosystem: z.string(),
    package: z.string(),
    version: z.string(),
    artifactSha256: z.string().nullable(),
    alsoArtifacts: z.array(z.object({ package: z.string(), sha256: z.string() })).optional(),
  }),
  targets: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      environment: z.string(),
      group: z.string(),
      region: z.string(),
      fromVersion: z.string(),
      toVersion: z.string(),
    }),
  ),
  skipped: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      reason: z.enum(["up-to-date", "not-installed", "unknown-version", "excluded"]),
      installedVersion: z.string().nullable(),
    }),
  ),
  phases: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["canary", "wave"]),
      ring: z.string().nullable(),
      assets: z.array(z.object({ id: z.string(), name: z.string() })),
      batches: z.array(z.array(z.string())),
      start: z.string(),
      observeMs: z.number(),
      failureBudget: z.number(),
      gates: z.array(planGateSchema),
    }),
  ),
  maxUnavailable: z.object({ group: placementCounts, region: placementCounts }),
  totalFailureBudget: z.number(),
  progressDeadlineMs: z.number(),
  revertTimeoutMs: z.number().optional(),
  notifyBeforeMs: z.number(),
  rollback: z.enum(["automatic", "manual"]),
  verification: VerificationSchema,
  finalVerification: z.boolean(),
  schedule: z.object({ start: z.string().nullable(), window: z.string().nullable(), reason: z.string() }),
  warnings: z.array(z.string()),
  summary: z.object({
    toPatch: z.number().int(),
    skipped: z.number().int(),
    phases: z.number().int(),
    rings: z.number().int(),
    earliestStart: z.string().nullable(),
    estimatedEnd: z.string().nullable(),
  }),
});

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
          selector: z.string().min(1),
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
        response: { 200: planSchema },
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
