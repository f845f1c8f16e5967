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
import type { AuditSigningKey } from "../../audit/signing-key.js";
import { enrollAgent } from "../../auth/enrollment.js";
import { recordAgentInventory, recordAgentInventoryDelta, recordHeartbeat } from "../../inventory/agents.js";
import type { ServiceContext } from "../../service/context.js";
import { agentProtocolHook } from "../agent-protocol.js";
import { actorOf, bearerToken } from "../auth.js";
import { readInventoryDeltaFast } from "../delta-body.js";
import { fastBodyValidatorCompiler } from "../fast-body.js";
import { readInventoryReportFast } from "../report-body.js";

export interface AgentRouteOptions {
  /** The server's signing key: its public half goes to every agent at enrollment, to pin. */
  signingKey?: AuditSigningKey | null;
}

/**
 * The pull protocol of host agents: enroll once, then heartbeat and report inventory. An agent that
 * names another protocol version is refused; one that predates the header is still served here.
 */
export async function agentRoutes(
  app: FastifyInstance,
  ctx: ServiceContext,
  options: AgentRouteOptions = {},
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const protocol = agentProtocolHook(false);
  const serverPublicKey = options.signingKey?.publicKeyPem;
  r.post(
    "/api/v1/agent/enroll",
    {
      config: { access: "enroll" },
      onRequest: protocol,
      schema: {
        summary: "Exchange an enrollment token (as the bearer) for an agent credential",
        body: enrollRequestSchema,
        response: { 200: enrollResponseSchema },
      },
    },
    async (request) => ({
      ...(await enrollAgent(ctx, bearerToken(request), request.body)),
      ...(serverPublicKey === undefined ? {} : { serverPublicKey }),
    }),
  );
  r.post(
    "/api/v1/agent/heartbeat",
    {
      config: { access: "agent" },
      onRequest: protocol,
      schema: { body: heartbeatRequestSchema, response: { 200: heartbeatResponseSchema } },
    },
    async (request) => recordHeartbeat(ctx, actorOf(request), request.body.packagesDigest),
  );
  r.put(
    "/api/v1/agent/inventory",
    {
      // The hot body: read by hand when well-formed, by the guard and zod otherwise (fast-body.ts).
      config: { access: "agent", fastBody: readInventoryReportFast },
      validatorCompiler: fastBodyValidatorCompiler,
      onRequest: protocol,
      schema: { body: inventoryReportSchema, response: { 200: reportSummarySchema } },
    },
    async (request) => recordAgentInventory(ctx, actorOf(request), request.body.packages),
  );
  r.patch(
    "/api/v1/agent/inventory",
    {
      // Read by hand when well-formed, as the full report (src/server/delta-body.ts).
      config: { access: "agent", fastBody: readInventoryDeltaFast },
      validatorCompiler: fastBodyValidatorCompiler,
      schema: {
        summary: "Report the package changes since the set the server acknowledged (409: send a full report)",
        body: inventoryDeltaSchema,
        response: { 200: reportSummarySchema },
      },
    },
    async (request) => recordAgentInventoryDelta(ctx, actorOf(request), request.body),
  );
}
