import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from "fastify-type-provider-zod";
import type { AuditCheckpointer } from "../audit/checkpointer.js";
import type { AuditSigningKey } from "../audit/signing-key.js";
import type { ServiceContext } from "../service/context.js";
import { registerAuth } from "./auth.js";
import { applyBodyLimits, DEFAULT_BODY_LIMIT } from "./body-limits.js";
import { registerErrorHandler } from "./errors.js";
import { registerInputGuard } from "./input-guard.js";
import { registerJsonBodyParser } from "./json-body.js";
import { registerOpenApiConventions } from "./openapi.js";
import { REQUEST_LIMIT_OPTIONS, registerRequestLimits } from "./request-limits.js";
import { advisoryRoutes } from "./routes/advisories.js";
import { agentRoutes } from "./routes/agent.js";
import { agentOperationRoutes } from "./routes/agent-operations.js";
import { agentTokenRoutes } from "./routes/agent-tokens.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { assetRoutes } from "./routes/assets.js";
import { auditRoutes } from "./routes/audit.js";
import { changeRoutes } from "./routes/changes.js";
import { findingRoutes } from "./routes/findings.js";
import { healthRoutes } from "./routes/health.js";
import { incidentRoutes } from "./routes/incidents.js";
import { inventoryRoutes } from "./routes/inventory.js";
import { policyRoutes } from "./routes/policies.js";
import { principalRoutes } from "./routes/principals.js";
import { rolloutRoutes } from "./routes/rollouts.js";
import { tokenRoutes } from "./routes/tokens.js";
import { versionRoutes } from "./routes/version.js";

export interface AppOptions {
  /** Signs audit checkpoints and exports; without it those routes answer 422. */
  checkpointer?: AuditCheckpointer;
  /**
   * The server's one ed25519 key, which signs artifacts and whose public half agents pin at enrollment;
   * the checkpointer's key when not given. Without either the server stores no artifacts.
   */
  signingKey?: AuditSigningKey;
}

/** Builds the HTTP API on a service context; the caller listens and closes. */
export async function buildApp(ctx: ServiceContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast only narrows the generic so routes see the default instance type.
    loggerInstance: ctx.logger as FastifyBaseLogger,
    // Small unless a route needs more (body-limits.ts): the body is buffered whole before parsing.
    bodyLimit: DEFAULT_BODY_LIMIT,
    requestIdHeader: "x-request-id",
    // On close, sockets idle between requests (agents between polls, API clients) are closed at once.
    forceCloseConnections: "idle",
    ...REQUEST_LIMIT_OPTIONS,
  });
  app.setValidatorCompiler(validatorCompiler);
  registerJsonBodyParser(app);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  // Before authentication: an over-long URL is refused without looking anything up.
  registerRequestLimits(app);
  registerAuth(app, ctx);
  applyBodyLimits(app);
  registerInputGuard(app);
  registerOpenApiConventions(app);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "autopatch",
        version: "1",
        description:
          "Policy-driven patch orchestrator API. Lists answer `{items, next}`: pass `next` back as `cursor` until it is null. Errors answer `{error: {code, reason, message, where}}`.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // The docs page reads /openapi.json; both are public, like the health checks.
  await app.register(swaggerUi, { routePrefix: "/docs" });
  await auditRoutes(app, ctx, options.checkpointer ?? null);
  const signingKey = options.signingKey ?? options.checkpointer?.key ?? null;
  await agentRoutes(app, ctx, { signingKey });
  await agentOperationRoutes(app, ctx);
  await artifactRoutes(app, ctx, signingKey);
  for (const routes of [
    healthRoutes,
    versionRoutes,
    assetRoutes,
    inventoryRoutes,
    tokenRoutes,
    agentTokenRoutes,
    principalRoutes,
    advisoryRoutes,
    policyRoutes,
    changeRoutes,
    findingRoutes,
    rolloutRoutes,
    incidentRoutes,
  ]) {
    await routes(app, ctx);
  }
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  await app.ready();
  return app;
}
