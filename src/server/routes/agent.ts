import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import {
  enrollRequestSchema,
  enrollResponseSchema,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  inventoryDeltaSchema,
  inventoryReportSchema,
  reportSummarySchema,
} from "../../agent/protocol.js";
import { enrollAgent } from "../../auth/enrollment.js";
import { recordAgentInventory, recordAgentInventoryDelta, recordHeartbeat } from "../../inventory/agents.js";
import type { ServiceContext } from "../../service/context.js";
import { actorOf, bearerToken } from "../auth.js";

/** The pull protocol of host agents: enroll once, then heartbeat and report inventory. */
export async function agentRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    "/api/v1/agent/enroll",
    {
      config: { access: "enroll" },
      schema: {
        summary: "Exchange an enrollment token (as the bearer) for an agent credential",
        body: enrollRequestSchema,
        response: { 200: enrollResponseSchema },
      },
    },
    async (request) => enrollAgent(ctx, bearerToken(request), request.body),
  );
  r.post(
    "/api/v1/agent/heartbeat",
    {
      config: { access: "agent" },
      schema: { body: heartbeatRequestSchema, response: { 200: heartbeatResponseSchema } },
    },
    async (request) => recordHeartbeat(ctx, actorOf(request), request.body.packagesDigest),
  );
  r.put(
    "/api/v1/agent/inventory",
    {
      config: { access: "agent" },
      schema: { body: inventoryReportSchema, response: { 200: reportSummarySchema } },
    },
    async (request) => recordAgentInventory(ctx, actorOf(request), request.body.packages),
  );
  r.patch(
    "/api/v1/agent/inventory",
    {
      config: { access: "agent" },
      schema: {
        summary: "Report the package changes since the set the server acknowledged (409: send a full report)",
        body: inventoryDeltaSchema,
        response: { 200: reportSummarySchema },
      },
    },
    async (request) => recordAgentInventoryDelta(ctx, actorOf(request), request.body),
  );
}
