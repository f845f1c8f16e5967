import "../../executors/index.js";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { MAX_WAIT_MS, nextOperation } from "../../executors/agent/leases.js";
import { recordProgress, recordResult } from "../../executors/agent/reports.js";
import { OPERATION_STATES } from "../../rollout/model.js";
import {
  leasedOperationSchema,
  operationProgressSchema,
  operationResultSchema,
} from "../../rollout/operation.js";
import type { ServiceContext } from "../../service/context.js";
import { agentProtocolHook } from "../agent-protocol.js";
import { actorOf } from "../auth.js";

const operationAnswerSchema = z.object({
  operation: z.string(),
  state: z.enum(OPERATION_STATES),
  step: z.string().nullable(),
  accepted: z.boolean(),
  result: operationResultSchema.nullable(),
  error: z.string().nullable(),
  leaseExpiresAt: z.string().nullable(),
});

const idParams = z.object({ id: z.string().min(1).max(100) });

/**
 * Operations for host agents (protocol 2): a long-poll that leases the next operation of the caller's
 * own asset, and its progress and result reports. These routes only record what the host says; the
 * engine turns it into the asset's transitions on its next pass.
 */
export async function agentOperationRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Waiting polls end at once on shutdown (204): the agent asks the next replica or the restarted server.
  const closing = new AbortController();
  app.addHook("preClose", async () => closing.abort());
  const protocol = agentProtocolHook(true);

  r.get(
    "/api/v1/agent/operations/next",
    {
      config: { access: "agent" },
      onRequest: protocol,
      schema: {
        summary: "Lease the next operation of the agent's own asset; waits up to waitMs (204: none)",
        querystring: z.object({ waitMs: z.coerce.number().int().min(0).max(MAX_WAIT_MS).default(25_000) }),
        response: { 200: leasedOperationSchema, 204: z.undefined().describe("no operation within the wait") },
      },
    },
    async (request, reply) => {
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.on("close", onClose);
      try {
        const leased = await nextOperation(
          ctx,
          actorOf(request),
          request.query.waitMs,
          AbortSignal.any([gone.signal, closing.signal]),
        );
        if (leased === null) return reply.code(204).send();
        return leased;
      } finally {
        reply.raw.off("close", onClose);
      }
    },
  );
  r.post(
    "/api/v1/agent/operations/:id/progress",
    {
      config: { access: "agent" },
      onRequest: protocol,
      schema: {
        summary: "Report the step the host is at (renews the lease; idempotent)",
        params: idParams,
        body: operationProgressSchema,
        response: { 200: operationAnswerSchema },
      },
    },
    async (request) => recordProgress(ctx, actorOf(request), request.params.id, request.body.step),
  );
  r.post(
    "/api/v1/agent/operations/:id/result",
    {
      config: { access: "agent" },
      onRequest: protocol,
      schema: {
        summary: "Report how the operation ended; stored once (a repeat returns what is stored)",
        params: idParams,
        body: operationResultSchema,
        response: { 200: operationAnswerSchema },
      },
    },
    async (request) => recordResult(ctx, actorOf(request), request.params.id, request.body),
  );
}
