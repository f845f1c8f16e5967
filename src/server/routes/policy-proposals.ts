import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { afterPolicyVersion, settleFindingsRedating } from "../../advisories/findings/choose-policy.js";
import {
  approveProposal,
  decideSchema,
  getProposal,
  listProposals,
  PROPOSAL_STATES,
  policyProposalSchema,
  policyProposalWithContentSchema,
  proposePolicy,
  proposeSchema,
  rejectProposal,
  rejectSchema,
} from "../../policy/proposals.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf } from "../auth.js";
import { pageOf, pageQueryFields, pageSchema } from "../lists/paging.js";

const params = z.object({ id: z.string().max(100) });

/** Proposed policy versions: operators propose, an approver or admin other than the proposer decides. */
export async function policyProposalRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    "/api/v1/policy-proposals",
    {
      config: { access: "operate" },
      schema: {
        summary:
          "Propose a policy version (YAML) with a reason; it is stored only once an approver who is not the proposer approves it",
        body: proposeSchema,
        response: { 201: policyProposalSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await proposePolicy(ctx, actorOf(request), request.body)),
  );

  r.get(
    "/api/v1/policy-proposals",
    {
      config: { access: "read" },
      schema: {
        summary: "Policy proposals, newest first",
        querystring: z.object({ state: z.enum(PROPOSAL_STATES).optional(), ...pageQueryFields }),
        response: { 200: pageSchema(policyProposalSchema) },
      },
    },
    async (request) => {
      const { state, ...page } = request.query;
      const all = await listProposals(ctx, state);
      return pageOf(all, { key: (p) => [p.createdAt, p.id], descending: [true, false] }, page);
    },
  );

  r.get(
    "/api/v1/policy-proposals/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "One policy proposal with its YAML",
        params,
        response: { 200: policyProposalWithContentSchema },
      },
    },
    async (request) => getProposal(ctx, request.params.id),
  );

  r.post(
    "/api/v1/policy-proposals/:id/approve",
    {
      config: { access: "approve" },
      schema: {
        summary: "Approve a proposal: its content becomes the next version of its name",
        params,
        // Fastify hands a request without a body on as null.
        body: decideSchema.nullish(),
        response: { 200: policyProposalWithContentSchema },
      },
    },
    async (request) => {
      // A new version of the policy findings follow re-dates them, as an apply does.
      const approved = await approveProposal(
        ctx,
        actorOf(request),
        request.params.id,
        request.body ?? {},
        afterPolicyVersion,
      );
      await settleFindingsRedating(ctx);
      return approved;
    },
  );

  r.post(
    "/api/v1/policy-proposals/:id/reject",
    {
      config: { access: "approve" },
      schema: {
        summary: "Reject a proposal, with a reason",
        params,
        body: rejectSchema,
        response: { 200: policyProposalWithContentSchema },
      },
    },
    async (request) => rejectProposal(ctx, actorOf(request), request.params.id, request.body),
  );
}
