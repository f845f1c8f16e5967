/**
 * Limits on the request line and headers, and answers for requests no route takes: every one of them
 * gets the `{error:{code,reason,message,where}}` envelope, like any other refused request.
 */
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from "fastify";
import type { ErrorReason } from "../domain/error-reasons.js";
import { reasonError } from "../domain/errors.js";

/** Path and query string together; well under Node's 16 KiB header limit, so it is this check that answers. */
export const MAX_URL_LENGTH = 8192;

/** One path parameter (an asset name, a policy name, an id). */
export const MAX_PARAM_LENGTH = 512;

/** Fastify options for the limits above, spread into the server's options. */
export const REQUEST_LIMIT_OPTIONS = {
  routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  clientErrorHandler,
  frameworkErrors,
} satisfies Pick<FastifyServerOptions, "routerOptions" | "clientErrorHandler" | "frameworkErrors">;

/** What the router refuses before any hook runs: a parameter past its limit, a path that does not decode. */
function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const error =
    err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? reasonError(
          "request.uri-too-long",
          `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
          {
            where: "/params",
          },
        )
      : err.code === "FST_ERR_BAD_URL"
        ? reasonError("validation", "the URL path does not decode as UTF-8", { where: "/url" })
        : reasonError("internal", "internal error");
  void reply.code(error.status).send({ error: error.toJSON() });
}

/** Refuses over-long URLs first, and answers unknown routes (or ids past the router's limit) in the envelope. */
export function registerRequestLimits(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    const length = request.raw.url?.length ?? 0;
    if (length > MAX_URL_LENGTH) {
      throw reasonError(
        "request.uri-too-long",
        `the URL is ${length} characters long; the limit is ${MAX_URL_LENGTH}`,
        { where: "/url" },
      );
    }
  });
  app.setNotFoundHandler(async (request) => {
    const path = (request.raw.url ?? "").split("?")[0] ?? "";
    throw reasonError("request.route-not-found", `no route ${request.method} ${shorten(path)}`, {
      where: "/url",
    });
  });
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (oversized headers, a
 * malformed request line, a slow client), in the envelope instead of Fastify's own JSON.
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [reason, message]: [ErrorReason, string] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? ["request.headers-too-large", "the request headers are larger than the server accepts (16 KiB)"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ["request.timeout", "the request was not received in time"]
        : ["validation", "the request is not valid HTTP"];
  const error = reasonError(reason, message, {
    where: reason === "request.headers-too-large" ? "/headers" : "/",
  });
  const body = JSON.stringify({ error: error.toJSON() });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
