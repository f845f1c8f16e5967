import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrollAgent } from "../src/auth/enrollment.js";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
import { createPrincipal } from "../src/auth/principals.js";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import type { Role } from "../src/domain/roles.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { buildApp } from "../src/server/app.js";
import { contextFor, freshStore } from "./helpers/stores.js";

type Caller = Role | "agent" | "anonymous" | "revoked";
const CALLERS: readonly Caller[] = [
  "anonymous",
  "revoked",
  "agent",
  "viewer",
  "operator",
  "approver",
  "admin",
];

interface Case {
  name: string;
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  url: string;
  body?: () => unknown;
  /** Callers that must get a 2xx (or `status`); every other caller must get 401 or 403. */
  allowed: readonly Caller[];
  status?: number;
}

const READ: readonly Caller[] = ["viewer", "operator", "approver", "admin"];
const OPERATE: readonly Caller[] = ["operator", "admin"];
const APPROVE: readonly Caller[] = ["approver", "admin"];
const ADMIN: readonly Caller[] = ["admin"];

const CASES: readonly Case[] = [
  { name: "list assets", method: "GET", url: "/api/v1/assets", allowed: READ },
  { name: "show asset", method: "GET", url: "/api/v1/assets/m1", allowed: READ },
  {
    name: "label asset",
    method: "PATCH",
    url: "/api/v1/assets/m1",
    body: () => ({ labels: { set: { a: "b" } } }),
    allowed: OPERATE,
  },
  {
    name: "import inventory",
    method: "POST",
    url: "/api/v1/inventory/import",
    body: () => ({
      asset: "m1",
      format: "dpkg",
      content: "Package: a\nStatus: install ok installed\nVersion: 1.0\n",
    }),
    allowed: OPERATE,
  },
  {
    name: "create token",
    method: "POST",
    url: "/api/v1/tokens",
    body: () => ({ name: "x", role: "viewer" }),
    allowed: ADMIN,
  },
  { name: "list tokens", method: "GET", url: "/api/v1/tokens", allowed: ADMIN },
  { name: "list principals", method: "GET", url: "/api/v1/principals", allowed: ADMIN },
  {
    name: "create principal",
    method: "POST",
    url: "/api/v1/principals",
    body: () => ({ name: "svc-x", kind: "service" }),
    allowed: ADMIN,
  },
  {
    name: "disable principal",
    method: "POST",
    url: "/api/v1/principals/svc-m/disable",
    body: () => ({}),
    allowed: ADMIN,
  },
  {
    name: "enable principal",
    method: "POST",
    url: "/api/v1/principals/svc-m/enable",
    body: () => ({}),
    allowed: ADMIN,
  },
  {
    name: "create agent token",
    method: "POST",
    url: "/api/v1/agent-tokens",
    body: () => ({}),
    allowed: ADMIN,
  },
  { name: "list agent tokens", method: "GET", url: "/api/v1/agent-tokens", allowed: ADMIN },
  // Past authentication, an unknown enrollment token is a 404.
  { name: "show agent token", method: "GET", url: "/api/v1/agent-tokens/nope", allowed: ADMIN, status: 404 },
  {
    name: "revoke agent token",
    method: "DELETE",
    url: "/api/v1/agent-tokens/nope",
    allowed: ADMIN,
    status: 404,
  },
  {
    name: "allow re-enrollment",
    method: "POST",
    url: "/api/v1/assets/m1/reenroll",
    body: () => ({}),
    allowed: ADMIN,
  },
  { name: "list audit", method: "GET", url: "/api/v1/audit", allowed: READ },
  { name: "verify audit", method: "GET", url: "/api/v1/audit/verify", allowed: READ },
  // The spec is public, like the health checks: clients are generated from it before they hold a token.
  { name: "openapi", method: "GET", url: "/openapi.json", allowed: CALLERS },
  { name: "list findings", method: "GET", url: "/api/v1/findings", allowed: READ },
  // Past authentication, an unknown vulnerability is a 404.
  {
    name: "vulnerability view",
    method: "GET",
    url: "/api/v1/vulnerabilities/CVE-2024-6387",
    allowed: READ,
    status: 404,
  },
  { name: "asset findings", method: "GET", url: "/api/v1/assets/m1/findings", allowed: READ },
  {
    name: "full re-match",
    method: "POST",
    url: "/api/v1/findings/rematch",
    body: () => ({}),
    allowed: OPERATE,
  },
  { name: "list advisories", method: "GET", url: "/api/v1/advisories", allowed: READ },
  {
    name: "import advisories",
    method: "POST",
    url: "/api/v1/advisories/batch",
    body: () => ({ source: "test", records: [] }),
    allowed: OPERATE,
  },
  { name: "list policies", method: "GET", url: "/api/v1/policies", allowed: READ },
  // Writing the rules is an admin's: an operator could otherwise switch off their own approvals.
  {
    name: "apply policy",
    method: "POST",
    url: "/api/v1/policies",
    body: () => ({ content: "name: matrix\napprovals: {required: 0}\n" }),
    allowed: ADMIN,
  },
  { name: "show findings policy", method: "GET", url: "/api/v1/findings-policy", allowed: READ },
  // Choosing it sets every finding's due date: an admin's, as writing a policy is.
  {
    name: "choose findings policy",
    method: "PUT",
    url: "/api/v1/findings-policy",
    body: () => ({ name: "default" }),
    allowed: ADMIN,
  },
  // Or propose one, which an approver other than the proposer approves.
  {
    name: "propose policy",
    method: "POST",
    url: "/api/v1/policy-proposals",
    body: () => ({ content: "name: matrix-proposal\n", reason: "matrix" }),
    allowed: OPERATE,
  },
  { name: "list policy proposals", method: "GET", url: "/api/v1/policy-proposals", allowed: READ },
  {
    name: "approve policy proposal",
    method: "POST",
    url: "/api/v1/policy-proposals/pp-00000000/approve",
    body: () => ({}),
    allowed: APPROVE,
    status: 404,
  },
  {
    name: "reject policy proposal",
    method: "POST",
    url: "/api/v1/policy-proposals/pp-00000000/reject",
    body: () => ({ reason: "no" }),
    allowed: APPROVE,
    status: 404,
  },
  // Both suppressions need an approver; past authorisation an unknown finding is a 404.
  {
    name: "accept a finding's risk",
    method: "POST",
    url: "/api/v1/findings/no-such-finding/accept-risk",
    body: () => ({ reason: "isolated", expiresAt: "30d" }),
    allowed: APPROVE,
    status: 404,
  },
  {
    name: "mark a finding not affected",
    method: "POST",
    url: "/api/v1/findings/no-such-finding/not-affected",
    body: () => ({ justification: "component_not_present", statement: "not shipped", reviewBy: "90d" }),
    allowed: APPROVE,
    status: 404,
  },
  {
    name: "reopen a finding",
    method: "POST",
    url: "/api/v1/findings/no-such-finding/reopen",
    body: () => ({ reason: "review" }),
    allowed: OPERATE,
    status: 404,
  },
  { name: "list changes", method: "GET", url: "/api/v1/changes", allowed: READ },
  { name: "list rollouts", method: "GET", url: "/api/v1/rollouts", allowed: READ },
  // Past authorisation, an unknown rollout or incident is a 404.
  { name: "show rollout", method: "GET", url: "/api/v1/rollouts/ro-nope", allowed: READ, status: 404 },
  ...(["pause", "resume", "abort", "promote"] as const).map(
    (control): Case => ({
      name: `rollout ${control}`,
      method: "POST",
      url: `/api/v1/rollouts/ro-nope/${control}`,
      body: () => ({ reason: "matrix" }),
      allowed: OPERATE,
      status: 404,
    }),
  ),
  ...(["retry", "skip"] as const).map(
    (control): Case => ({
      name: `rollout ${control}`,
      method: "POST",
      url: `/api/v1/rollouts/ro-nope/assets/web-1/${control}`,
      body: () => ({ reason: "matrix" }),
      allowed: OPERATE,
      status: 404,
    }),
  ),
  // Without a reason the emergency stop is refused (so the matrix sets nothing); with no stop set, resume-all is a conflict.
  {
    name: "rollout stop-all",
    method: "POST",
    url: "/api/v1/rollouts/stop-all",
    body: () => ({}),
    allowed: OPERATE,
    status: 400,
  },
  {
    name: "rollout resume-all",
    method: "POST",
    url: "/api/v1/rollouts/resume-all",
    body: () => ({ reason: "matrix" }),
    allowed: OPERATE,
    status: 409,
  },
  { name: "list incidents", method: "GET", url: "/api/v1/incidents", allowed: READ },
  { name: "show incident", method: "GET", url: "/api/v1/incidents/inc-nope", allowed: READ, status: 404 },
  {
    name: "close incident",
    method: "POST",
    url: "/api/v1/incidents/inc-nope/close",
    body: () => ({ summary: "matrix" }),
    allowed: OPERATE,
    status: 404,
  },
  {
    name: "agent heartbeat",
    method: "POST",
    url: "/api/v1/agent/heartbeat",
    body: () => ({}),
    allowed: ["agent"],
  },
  {
    name: "agent inventory",
    method: "PUT",
    url: "/api/v1/agent/inventory",
    body: () => ({ packages: [] }),
    allowed: ["agent"],
  },
];

describe("API authentication and roles, every route × every caller", () => {
  let app: FastifyInstance;
  let dispose: () => Promise<void>;
  const tokens = new Map<Caller, string>();

  beforeAll(async () => {
    const store = await freshStore("sqlite");
    dispose = store.dispose;
    const ctx = contextFor(store);
    const admin = await bootstrapAdminToken(ctx);
    tokens.set("admin", admin?.token ?? "");
    for (const role of ["viewer", "operator", "approver"] as const) {
      tokens.set(role, (await createApiToken(ctx, SYSTEM_ACTOR, { name: role, role })).token);
    }
    const revoked = await createApiToken(ctx, SYSTEM_ACTOR, { name: "old", role: "admin" });
    await store.db
      .updateTable("api_tokens")
      .set({ revoked_at: new Date().toISOString() })
      .where("id", "=", revoked.id)
      .execute();
    tokens.set("revoked", revoked.token);
    const enroll = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
    tokens.set("agent", (await enrollAgent(ctx, enroll.token, { name: "agent-host" })).credential);
    await createAsset(ctx, SYSTEM_ACTOR, "m1", {});
    await createPrincipal(ctx, SYSTEM_ACTOR, { name: "svc-m", kind: "service" });
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await dispose?.();
  });

  const matrix = CASES.flatMap((c) => CALLERS.map((caller) => [c.name, caller, c] as const));
  it.each(matrix)("%s as %s", async (_name, caller, c) => {
    const token = tokens.get(caller);
    const response = await app.inject({
      method: c.method,
      url: c.url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(c.body ? { payload: c.body() as Record<string, unknown> } : {}),
    });
    if (c.allowed.includes(caller)) {
      if (c.status) expect(response.statusCode, response.body).toBe(c.status);
      else expect(response.statusCode, response.body).toBeLessThan(300);
    } else {
      expect(response.statusCode, response.body).toBe(
        caller === "anonymous" || caller === "revoked" ? 401 : 403,
      );
    }
  });

  it("health checks need no token", async () => {
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
  });

  it("deleting an asset needs an admin", async () => {
    for (const caller of ["viewer", "operator", "approver", "agent"] as const) {
      const r = await app.inject({
        method: "DELETE",
        url: "/api/v1/assets/m1",
        headers: { authorization: `Bearer ${tokens.get(caller)}` },
      });
      expect(r.statusCode).toBe(403);
    }
    const ok = await app.inject({
      method: "DELETE",
      url: "/api/v1/assets/m1",
      headers: { authorization: `Bearer ${tokens.get("admin")}` },
    });
    expect(ok.statusCode).toBe(204);
  });

  it("a bad request says where: JSON pointer into the body", async () => {
    const r = await app.inject({
      method: "PUT",
      url: "/api/v1/agent/inventory",
      headers: { authorization: `Bearer ${tokens.get("agent")}` },
      payload: {
        packages: [
          { ecosystem: "Debian", name: "a", version: "1" },
          { ecosystem: "Debian", name: "b" },
        ],
      },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "validation", where: "/body/packages/1/version" } });
  });

  it.each(CALLERS)("enrolling takes an enrollment token, never a credential of %s", async (caller) => {
    const token = tokens.get(caller);
    const r = await app.inject({
      method: "POST",
      url: "/api/v1/agent/enroll",
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: { name: `as-${caller}` },
    });
    expect(r.statusCode, r.body).toBe(401);
  });

  it("an enrollment token is not an API token", async () => {
    const r = await app.inject({
      url: "/api/v1/assets",
      headers: { authorization: "Bearer ape_not-a-real-token" },
    });
    expect(r.statusCode).toBe(401);
  });
});
