import type { FastifyInstance, FastifyRequest } from "fastify";
import { usableEnrollmentToken } from "../auth/enrollment-tokens.js";
import { authenticate } from "../auth/tokens.js";
import { AuthError } from "../domain/errors.js";
import { type Actor, type Permission, roleAllows } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";

/**
 * What a route needs: a permission of a person's role, an agent credential, either of an agent
 * credential or a person's read permission (artifact downloads), an enrollment token (which the
 * enroll handler consumes) or nothing (health checks only).
 */
export type RouteAccess = Permission | "agent" | "agent-or-read" | "enroll" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) throw new AuthError("unauthenticated", "send a token as `Authorization: Bearer <token>`");
  return match[1];
}

/** Authenticates every request and enforces the route's access on the server. Routes that do not
 * declare their access need an admin: forgetting to declare it fails closed. This runs before the
 * body is read, so an unauthenticated caller never gets a body buffered or parsed. */
export function registerAuth(app: FastifyInstance, ctx: ServiceContext): void {
  app.decorateRequest("actor", null);
  app.addHook("onRequest", async (request) => {
    const access: RouteAccess = request.routeOptions.config?.access ?? "admin";
    if (access === "public" || request.routeOptions.url === undefined) return;
    if (access === "enroll") {
      await usableEnrollmentToken(ctx.store.db, bearerToken(request), ctx.now());
      return;
    }
    const actor = await authenticate(ctx, bearerToken(request));
    request.actor = actor;
    if (access === "agent") {
      if (actor.kind !== "agent") throw new AuthError("forbidden", "this route is for agent credentials");
      return;
    }
    if (access === "agent-or-read" && actor.kind === "agent") return;
    const permission: Permission = access === "agent-or-read" ? "read" : access;
    if (actor.kind !== "user" || actor.role === null || !roleAllows(actor.role, permission)) {
      throw new AuthError(
        "forbidden",
        `this needs the "${permission}" permission, which the token's role does not have`,
      );
    }
  });
}

/** The authenticated actor of a request whose route is not public. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AuthError("unauthenticated", "not authenticated");
  return request.actor;
}
