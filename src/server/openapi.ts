/**
 * What every operation in /openapi.json carries without each route spelling it out: an operationId and
 * a tag derived from its path, a description that says which permission it needs, and the error
 * responses in the one envelope. A route may set its own and keeps them.
 */
import type { FastifyInstance, RouteOptions } from "fastify";
import { z } from "zod";
import type { RouteAccess } from "./auth.js";
import { errorSchema } from "./schemas.js";

/** The error statuses every operation may answer; 401 and 403 only where a token is needed. */
const ERROR_STATUSES = [400, 404, 413, 414, 431, 500] as const;

/** Routes the spec leaves out: the spec itself and the docs page's assets. */
export function isDocumentationRoute(url: string): boolean {
  return url === "/openapi.json" || url === "/docs" || url.startsWith("/docs/");
}

const VERBS: Record<string, string> = {
  GET: "get",
  POST: "create",
  PUT: "put",
  PATCH: "update",
  DELETE: "delete",
};

function camel(words: readonly string[]): string {
  return words
    .flatMap((w) => w.split(/[^A-Za-z0-9]+/))
    .filter((w) => w !== "")
    .map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1)))
    .join("");
}

/**
 * `GET /api/v1/assets` → listAssets, `GET /api/v1/assets/:name` → getAssetsByName,
 * `POST /api/v1/changes/:id/approve` → approveChangesById: stable names from the path alone.
 */
export function operationIdOf(method: string, url: string, isList: boolean): string {
  const segments = url
    .replace(/^\/api\/v1\//, "")
    .replace(/^\//, "")
    .split("/");
  const literals = segments.filter((s) => !s.startsWith(":"));
  const params = segments.filter((s) => s.startsWith(":")).map((s) => s.slice(1));
  const last = segments.at(-1) ?? "";
  // A literal after a parameter is an action on that resource (approve, pause, retry).
  const action =
    method === "POST" &&
    segments.length > 1 &&
    !last.startsWith(":") &&
    segments.some((s) => s.startsWith(":"));
  const verb = isList ? "list" : action ? last : (VERBS[method] ?? method.toLowerCase());
  const nouns = action ? literals.slice(0, -1) : literals;
  return camel([verb, ...nouns, ...(params.length > 0 ? ["by", ...params.flatMap((p) => ["", p])] : [])]);
}

export function tagOf(url: string): string {
  if (!url.startsWith("/api/v1/")) return "health";
  const first = url.replace(/^\/api\/v1\//, "").split("/")[0] ?? "api";
  return first === "vulnerabilities" ? "findings" : first;
}

const ACCESS_TEXT: Record<RouteAccess, string> = {
  public: "No token needed.",
  agent: "Needs an agent credential.",
  "agent-or-read": "Needs an agent credential or a token with the `read` permission.",
  enroll: "Needs an enrollment token.",
  read: "Needs a token with the `read` permission.",
  operate: "Needs a token with the `operate` permission.",
  approve: "Needs a token with the `approve` permission.",
  admin: "Needs an admin token.",
};

interface RouteSchema {
  hide?: boolean;
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  response?: Record<string | number, unknown>;
  querystring?: unknown;
}

/** Registers the hook; call before any route is added. */
export function registerOpenApiConventions(app: FastifyInstance): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    if (isDocumentationRoute(route.url)) {
      route.config = { ...route.config, access: "public" };
      route.schema = { ...route.schema, hide: true };
      return;
    }
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== "HEAD");
    const method = methods[0] ?? "GET";
    const schema: RouteSchema = { ...(route.schema as RouteSchema | undefined) };
    if (schema.hide) return;
    const access: RouteAccess = route.config?.access ?? "admin";
    const query = schema.querystring;
    const isList = method === "GET" && query instanceof z.ZodObject && "cursor" in query.shape;
    schema.operationId ??= operationIdOf(method, route.url, isList);
    schema.tags ??= [tagOf(route.url)];
    schema.summary ??= `${method} ${route.url}`;
    schema.description ??= `${schema.summary}. ${ACCESS_TEXT[access]}`;
    const response = { ...schema.response };
    const statuses: number[] = [...ERROR_STATUSES, ...(access === "public" ? [] : [401, 403])];
    if (method !== "GET" && method !== "DELETE") statuses.push(409);
    for (const status of statuses) {
      response[status] ??= errorSchema;
    }
    schema.response = response;
    route.schema = schema;
  });
}
