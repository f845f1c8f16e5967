import type { FastifyError, FastifyInstance } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { ZodError } from "zod";
import { isAppError, jsonPointer, reasonError } from "../domain/errors.js";

/** Maps domain errors to their status, validation problems to 400 with a JSON pointer; never leaks internals. */
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
      return reply.code(err.status).send({ error: err.toJSON() });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      const context = err.validationContext ?? "body";
      const path = first?.instancePath ?? "";
      return reply.code(400).send({
        error: {
          code: "validation",
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
          message: first?.message ?? "invalid request",
          where: jsonPointer(first?.path ?? []),
        },
      });
    }
    const status = "statusCode" in err && typeof err.statusCode === "number" ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, "request failed");
      return reply.code(500).send({ error: { code: "internal", message: "internal error" } });
    }
    return reply
      .code(status)
      .send({ error: { code: status === 401 ? "unauthenticated" : "validation", message: err.message } });
  });
}
