/**
 * Refuses request input that no handler should see: a lone surrogate in any string (it cannot be
 * stored in PostgreSQL nor written as UTF-8) or nesting past the input depth limit, in the body, the
 * query string or the path parameters. Runs after parsing and before schema validation.
 */
import type { FastifyInstance } from "fastify";
import { assertWellFormedInput, pointerSuffix } from "../domain/input-shape.js";

export function registerInputGuard(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    // The same part names as schema validation errors use, so `where` reads alike for both.
    const parts: Array<[string, unknown]> = [
      ["params", request.params],
      ["querystring", request.query],
      ["body", request.body],
    ];
    for (const [part, value] of parts) {
      assertWellFormedInput(value, (path) => `/${part}${pointerSuffix(path)}`);
    }
  });
}
