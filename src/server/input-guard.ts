/**
 * Refuses request input that no handler should see: a lone surrogate in any string (it cannot be
 * stored in PostgreSQL nor written as UTF-8) or nesting past the input depth limit, in the body, the
 * query string or the path parameters. Runs after parsing and before schema validation.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { reasonError } from "../domain/errors.js";
import { assertWellFormedInput, pointerSuffix } from "../domain/input-shape.js";
import { readBodyFast } from "./fast-body.js";

export function registerInputGuard(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    // The same part names as schema validation errors use, so `where` reads alike for both.
    const parts: Array<[string, unknown]> = [
      ["params", request.params],
      ["query", request.query],
      ["body", request.body],
    ];
    const fastBody = request.routeOptions.config.fastBody;
    for (const [part, value] of parts) {
      if (part === "body" && fastBody !== undefined) {
        // A body the route's reader vouches for was checked by it: no second walk (fast-body.ts).
        const read = readBodyFast(fastBody, value);
        if (read !== undefined) {
          request.body = read;
          continue;
        }
      }
      assertWellFormedInput(value, (path) => `/${part}${pointerSuffix(path)}`);
    }
    refuseUnknownQuery(request);
  });
}

/** A query parameter the route does not take is refused, not ignored: a typo must not widen a list. */
function refuseUnknownQuery(request: FastifyRequest): void {
  const query = request.query;
  if (query === null || typeof query !== "object") return;
  const names = Object.keys(query);
  if (names.length === 0) return;
  const schema: unknown = request.routeOptions.schema?.querystring;
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const unknown = names.find((name) => !known.includes(name));
  if (unknown === undefined) return;
  throw reasonError(
    "request.unknown-query-parameter",
    known.length === 0
      ? `this route takes no query parameters; "${unknown}" is not one`
      : `unknown query parameter "${unknown}"; this route takes ${known.map((k) => `"${k}"`).join(", ")}`,
    { where: `/query/${unknown.replaceAll("~", "~0").replaceAll("/", "~1")}` },
  );
}
