/**
 * The JSON body parser: Fastify's own (secure-json-parse, which refuses `__proto__` and `constructor`
 * keys), behind a pre-check. secure-json-parse scans the whole text with two regular expressions,
 * about a quarter of the parse on a 130 KB inventory report; a text holding neither word nor any `\u`
 * escape (which could spell one) has no such key, and plain JSON.parse gives the same value for it.
 * Everything else, malformed JSON included, goes through the original parser and gets its answer.
 */
import type { FastifyInstance } from "fastify";

/** True when the text could spell a forbidden key: the original parser then decides. */
export function mayHoldForbiddenKey(text: string): boolean {
  return text.includes("__proto__") || text.includes("constructor") || text.includes("\\u");
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  // The options Fastify's default parser runs with (onProtoPoisoning and onConstructorPoisoning "error").
  const original = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (typeof body === "string" && body.length > 0 && !mayHoldForbiddenKey(body)) {
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        // Malformed: the original parser reports it, with its own error.
        original(request, body, done);
        return;
      }
      done(null, value);
      return;
    }
    // parseAs "string" always hands a string; the original parser takes one.
    original(request, typeof body === "string" ? body : body.toString("utf8"), done);
  });
}
