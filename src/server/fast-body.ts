/**
 * A route's hand-written body reader for its hot, well-formed case: the input guard calls it in place
 * of its walk, and the route's validator then passes what it returned without running zod. A reader
 * returns undefined for anything it is not sure of, and the body then takes the usual path (the
 * guard's walk, then the zod schema), so every refusal keeps its error. A reader must accept only
 * bodies zod accepts, return what zod would return, and have checked every string and key it keeps
 * as the guard would (see src/server/report-body.ts and its test).
 */
import type { FastifySchemaCompiler } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";

export type FastBodyReader = (body: unknown) => object | undefined;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Reads this route's well-formed bodies without the guard's walk and zod (see fast-body.ts). */
    fastBody?: FastBodyReader;
  }
}

/** Bodies a fast reader produced in this process: the validator lets exactly these through. */
const readFast = new WeakSet<object>();

/** The guard's side: the reader's value, marked for the validator, or undefined to walk as usual. */
export function readBodyFast(reader: FastBodyReader, body: unknown): object | undefined {
  const value = reader(body);
  if (value !== undefined) readFast.add(value);
  return value;
}

/** The route's validator: zod's, except for a body its fast reader produced. */
export const fastBodyValidatorCompiler: FastifySchemaCompiler<unknown> = (route) => {
  const zod = validatorCompiler(route as Parameters<typeof validatorCompiler>[0]);
  if (route.httpPart !== "body") return zod;
  return (data: unknown) =>
    data !== null && typeof data === "object" && readFast.has(data) ? { value: data } : zod(data);
};
