import "../../executors/index.js";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { inventoryDeltaSchema, POLL_HEARTBEAT_HEADER, reportSummarySchema } from "../../agent/protocol.js";
import { AppError } from "../../domain/errors.js";
import { MAX_WAIT_MS, nextOperation } from "../../executors/agent/leases.js";
import { recordPollHeartbeat } from "../../executors/agent/poll-heartbeat.js";
import { checkResultTarget, recordProgress, recordResult } from "../../executors/agent/reports.js";
import { recordAgentInventoryDelta } from "../../inventory/agents.js";
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
  /** The inventory summary when the result carried the host's inventory delta. */
  inventory: reportSummarySchema.optional(),
});

/**
 * A result may carry the host's inventory delta (PATCH /api/v1/agent/inventory's body), offered by the
 * server in the leased operation: one request fewer per operation. Results without it are served as
 * before.
 */
const resultBodySchema = operationResultSchema.extend({ inventory: inventoryDeltaSchema.optional() });

const idParams = z.object({ id: z.string().min(1).max(100) });

/**
 * Operations for host agents (protocol 2): a long-poll that leases the next operation of the caller's
 * own asset, and its progress and result reports. These routes only record what the host says; the
 * engine turns it into the asset's transitions on its next pass.
 */
export async function agentOperationRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Waiting polls end at once on shutdown (204): the agent asks the next replica or the restarted server.
  // Each waiting poll's own controller: a set costs less per poll than a listener on a shared signal.
  const waiting = new Set<AbortController>();
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
    for (const stop of waiting) stop.abort();
  });
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
      // One controller for both ends of the wait (client gone, shutdown): AbortSignal.any costs a
      // combined signal with weak references on every poll.
      const stop = new AbortController();
      let hungUp = false;
      const onClose = () => {
        if (reply.raw.writableFinished) return;
        hungUp = true;
        stop.abort();
      };
      if (closing) stop.abort();
      reply.raw.on("close", onClose);
      waiting.add(stop);
      try {
        const leased = await nextOperation(ctx, actorOf(request), request.query.waitMs, stop.signal);
        // The poll's answer is the agent's sign of life: it skips the heartbeats it would send meanwhile.
        // An agent that hung up (killed, perhaps) hears no answer and gave none.
        const beat =
          !hungUp &&
          (await recordPollHeartbeat(ctx, actorOf(request)).catch((err: unknown) => {
            request.log.warn({ err }, "a long-poll's heartbeat was not recorded");
            return false;
          }));
        if (beat) reply.header(POLL_HEARTBEAT_HEADER, "1");
        if (leased === null) return reply.code(204).send();
        return leased;
      } finally {
        reply.raw.off("close", onClose);
        waiting.delete(stop);
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
        body: resultBodySchema,
        response: { 200: operationAnswerSchema },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const { inventory, ...result } = request.body;
      if (inventory === undefined) return recordResult(ctx, actor, request.params.id, result);
      // The inventory is committed before the result, so that when the engine hears the operation
      // ended the inventory shows what the host has (as when the agent sent it just before). A report
      // refused for its operation records neither; a delta refused (409) leaves the result unrecorded
      // too, and the agent sends its full inventory and then the result alone.
      await checkResultTarget(ctx, actor, request.params.id);
      const summary = await recordAgentInventoryDelta(ctx, actor, inventory).catch((err: unknown) => {
        throw inInventory(err);
      });
      return { ...(await recordResult(ctx, actor, request.params.id, result)), inventory: summary };
    },
  );
}

/** An inventory error's `where` pointed into the result's body, where the delta is `/body/inventory`. */
function inInventory(err: unknown): unknown {
  if (!(err instanceof AppError)) return err;
  const where =
    err.where === undefined ? "/body/inventory" : `/body/inventory${err.where.replace(/^\/body/, "")}`;
  return new AppError(err.code, err.message, {
    reason: err.reason,
    where,
    ...(err.details === undefined ? {} : { details: err.details }),
    cause: err,
  });
}
