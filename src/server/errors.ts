import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { ZodError } from "zod";
import type { ErrorReason } from "../domain/error-reasons.js";
import { isAppError, jsonPointer, reasonError } from "../domain/errors.js";

/** Fastify's own refusals, by their code: the specific reason and where in the request the problem is. */
const FASTIFY_REASONS: Record<string, { reason: ErrorReason; where: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { reason: "request.body-too-large", where: "/body" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    reason: "request.unsupported-media-type",
    where: "/headers/content-type",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { reason: "validation", where: "/headers/content-length" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { reason: "request.invalid-json", where: "/body" },
  FST_ERR_CTP_INVALID_JSON_BODY: { reason: "request.invalid-json", where: "/body" },
  FST_ERR_BAD_URL: { reason: "validation", where: "/url" },
};

const REQUEST_PARTS = ["/body", "/query", "/params", "/headers", "/url"];

/** `/etc/autopatch/policy.yaml:3:7`: a place in a file the caller named, not a pointer. */
const FILE_LOCATION = /:\d+(:\d+)?$/;

/**
 * Services point into the input they were given (`/labels/set/k`, `/state`); the answer points into
 * the request, so the part that held it is put in front: the query or the path parameters when they
 * have the first key, the body otherwise. Locations that are not pointers (`file:3:7`) stay as they are.
 */
export function inRequest(where: string, request: FastifyRequest): string {
  if (
    !where.startsWith("/") ||
    FILE_LOCATION.test(where) ||
    REQUEST_PARTS.some((p) => where === p || where.startsWith(`${p}/`))
  ) {
    return where;
  }
  const first = (where.split("/")[1] ?? "").replaceAll("~1", "/").replaceAll("~0", "~");
  const has = (value: unknown) => value !== null && typeof value === "object" && Object.hasOwn(value, first);
  if (has(request.query)) return `/query${where}`;
  if (has(request.params)) return `/params${where}`;
  if (request.body !== undefined && request.body !== null) return `/body${where === "/" ? "" : where}`;
  return where;
}

/**
 * Maps domain errors to their status, validation problems to 400 with a JSON pointer; never leaks
 * internals. Every answer has the envelope `{error:{code, reason, message, where}}`.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    if ("code" in err && err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const limit = request.routeOptions.bodyLimit;
      const tooLarge = reasonError(
        "request.body-too-large",
        `the request body is larger than this route's limit${limit === undefined ? "" : ` of ${limit} bytes`}`,
        { where: "/body" },
      );
      return reply.code(tooLarge.status).send({ error: tooLarge.toJSON() });
    }
    if (isAppError(err)) {
      if (err.status >= 500) request.log.error({ err }, "request failed");
      const body = err.toJSON();
      if (body.where !== undefined) body.where = inRequest(body.where, request);
      return reply.code(err.status).send({ error: body });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      // Fastify names the query string "querystring"; pointers into the request say "query".
      const context = err.validationContext === "querystring" ? "query" : (err.validationContext ?? "body");
      const path = first?.instancePath ?? "";
      return reply.code(400).send({
        error: {
          code: "validation",
          reason: "validation",
          message: first?.message ?? "invalid request",
          where: `/${context}${path}`,
        },
      });
    }
    if (err instanceof ZodError) {
      const first = err.issues[0];
      return reply.code(400).send({
        error: {
          code: "validation",
          reason: "validation",
          message: first?.message ?? "invalid request",
          where: inRequest(jsonPointer(first?.path ?? []), request),
        },
      });
    }
    const status = "statusCode" in err && typeof err.statusCode === "number" ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, "request failed");
      return reply
        .code(500)
        .send({ error: { code: "internal", reason: "internal", message: "internal error" } });
    }
    const code = status === 401 ? "unauthenticated" : "validation";
    const known = "code" in err && typeof err.code === "string" ? FASTIFY_REASONS[err.code] : undefined;
    // A body that is not JSON is reported by the parser as a SyntaxError with status 400.
    const mapped =
      known ?? (err instanceof SyntaxError ? FASTIFY_REASONS.FST_ERR_CTP_INVALID_JSON_BODY : undefined);
    return reply.code(status).send({
      error: {
        code,
        reason: mapped?.reason ?? code,
        message: err.message,
        ...(mapped ? { where: mapped.where } : {}),
      },
    });
  });
}
