import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
import { createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { debianAdvisory, insertAdvisories } from "./helpers/advisories.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses?: Record<string, unknown>;
  security?: unknown[];
}

type OpenApi = { paths: Record<string, Record<string, Operation>>; components: { schemas: object } };

const METHODS = ["get", "post", "put", "patch", "delete"];

function operations(doc: OpenApi): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  );
}

/** List routes: GETs that take a cursor. */
function listRoutes(doc: OpenApi): string[] {
  return operations(doc)
    .filter(
      (o) => o.method === "get" && o.op.parameters?.some((p) => p.in === "query" && p.name === "cursor"),
    )
    .map((o) => o.path);
}

/** Documents that carry one paged list besides their own fields, and the path to read one at. */
const PAGED_DOCUMENTS: Record<string, string> = {
  "/api/v1/vulnerabilities/{id}": "/api/v1/vulnerabilities/DSA-1000-1",
};

/** The paging keys of a list, or of a document's paged list. */
const pagingKeys = (template: string, body: object) =>
  template in PAGED_DOCUMENTS ? ["items", "next"].filter((k) => k in body) : Object.keys(body).sort();

describe.each(DIALECTS)("API conventions on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let admin: Record<string, string>;
  let doc: OpenApi;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    app = await buildApp(ctx);
    admin = {
      authorization: `Bearer ${(await createApiToken(ctx, SYSTEM_ACTOR, { name: "root", role: "admin" })).token}`,
    };
    // Enough rows that several lists span pages of two.
    for (const name of ["web-1", "web-2", "web-3", "db-1", "db-2"]) {
      await createAsset(ctx, SYSTEM_ACTOR, name, { environment: "prod" });
    }
    await insertAdvisories(store.db, [debianAdvisory({ id: "DSA-1000-1", source: "curl", fixed: "8.0-1" })]);
    for (const name of ["ci", "backup", "deploy"]) {
      await createApiToken(ctx, SYSTEM_ACTOR, { name, role: "viewer" });
    }
    for (let i = 0; i < 3; i++) await createEnrollmentToken(ctx, SYSTEM_ACTOR, {});
    const served = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(served.statusCode, "the spec is served without a token").toBe(200);
    doc = served.json() as OpenApi;
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("gives every operation an id, a tag, a summary, a description and the error responses", () => {
    const all = operations(doc);
    expect(all.length).toBeGreaterThan(50);
    const ids = all.map((o) => o.op.operationId);
    expect(new Set(ids).size, "operation ids are unique").toBe(all.length);
    for (const { method, path, op } of all) {
      const name = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z0-9]+$/);
      expect(op.tags?.length, name).toBe(1);
      expect(op.summary, name).toBeTruthy();
      expect(op.description, name).toBeTruthy();
      const statuses = Object.keys(op.responses ?? {});
      expect(statuses, name).toEqual(expect.arrayContaining(["400", "404", "413", "414", "431", "500"]));
      if (!["/healthz", "/readyz"].includes(path)) {
        expect(statuses, name).toEqual(expect.arrayContaining(["401", "403"]));
      }
    }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz"]));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Error", "Asset"]));
  });

  it("pages every list route with the one shape, and follows the cursor to the end without repeats", async () => {
    const lists = listRoutes(doc);
    expect(lists).toEqual(
      expect.arrayContaining([
        "/api/v1/assets",
        "/api/v1/findings",
        "/api/v1/changes",
        "/api/v1/rollouts",
        "/api/v1/audit",
        "/api/v1/advisories",
        "/api/v1/tokens",
        "/api/v1/principals",
        "/api/v1/agent-tokens",
        "/api/v1/policies",
        "/api/v1/policy-proposals",
        "/api/v1/artifacts",
        "/api/v1/incidents",
        "/api/v1/assets/{name}/findings",
      ]),
    );
    const multiPage: string[] = [];
    for (const template of lists) {
      const path = PAGED_DOCUMENTS[template] ?? template.replace("{name}", "web-1");
      const whole = await app.inject({ method: "GET", url: `${path}?limit=1000`, headers: admin });
      expect(whole.statusCode, `${path}: ${whole.body}`).toBe(200);
      const all = whole.json() as { items: unknown[]; next: string | null };
      expect(pagingKeys(template, all), path).toEqual(["items", "next"]);
      expect(all.next, path).toBeNull();

      const seen: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `${path}?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
        const page = await app.inject({ method: "GET", url, headers: admin });
        expect(page.statusCode, `${url}: ${page.body}`).toBe(200);
        const body = page.json() as { items: unknown[]; next: string | null };
        expect(pagingKeys(template, body), url).toEqual(["items", "next"]);
        expect(body.items.length, url).toBeLessThanOrEqual(2);
        seen.push(...body.items);
        cursor = body.next;
        pages++;
      } while (cursor !== null && pages < 100);
      expect(seen, `${path} paged by two is the whole list`).toEqual(all.items);
      if (pages > 1) multiPage.push(template);
    }
    // Lists with rows in them really spanned pages.
    expect(multiPage).toEqual(
      expect.arrayContaining([
        "/api/v1/assets",
        "/api/v1/tokens",
        "/api/v1/principals",
        "/api/v1/agent-tokens",
        "/api/v1/audit",
      ]),
    );
  });

  it("defaults to 100 items a page and refuses limits past 1000", async () => {
    const over = await app.inject({ method: "GET", url: "/api/v1/assets?limit=1001", headers: admin });
    expect(over.statusCode).toBe(400);
    expect(over.json()).toMatchObject({ error: { code: "validation", where: "/query/limit" } });
    const audit = await app.inject({ method: "GET", url: "/api/v1/audit", headers: admin });
    expect((audit.json() as { items: unknown[] }).items.length).toBeLessThanOrEqual(100);
  });

  it("refuses unknown query parameters and foreign cursors on every list route, at /query/<name>", async () => {
    for (const template of listRoutes(doc)) {
      const path = PAGED_DOCUMENTS[template] ?? template.replace("{name}", "web-1");
      const typo = await app.inject({ method: "GET", url: `${path}?selecter=x`, headers: admin });
      expect(typo.statusCode, path).toBe(400);
      expect(typo.json(), path).toEqual({
        error: {
          code: "validation",
          reason: "request.unknown-query-parameter",
          message: expect.stringContaining('"selecter"'),
          where: "/query/selecter",
        },
      });
      const forged = await app.inject({ method: "GET", url: `${path}?cursor=not-a-cursor`, headers: admin });
      expect(forged.statusCode, path).toBe(400);
      expect(forged.json(), path).toMatchObject({
        error: { reason: "request.invalid-cursor", where: "/query/cursor" },
      });
    }
    // A route that takes no query parameters refuses them too.
    const one = await app.inject({ method: "GET", url: "/api/v1/assets/web-1?verbose=1", headers: admin });
    expect(one.json()).toMatchObject({ error: { where: "/query/verbose" } });
  });

  it("points `where` into the request: the query, the body, a label's key", async () => {
    const badClass = await app.inject({
      method: "GET",
      url: "/api/v1/findings?class=urgent",
      headers: admin,
    });
    expect(badClass.json()).toMatchObject({ error: { code: "validation", where: "/query/class" } });
    const badLabel = await app.inject({
      method: "PATCH",
      url: "/api/v1/assets/web-1",
      headers: { ...admin, "content-type": "application/json" },
      payload: { labels: { set: { k: 7 } } },
    });
    expect(badLabel.statusCode).toBe(400);
    expect(badLabel.json()).toMatchObject({ error: { code: "validation", where: "/body/labels/set/k" } });
    // A label the service refuses (not a Kubernetes-style value) is located in the body too.
    const badValue = await app.inject({
      method: "PATCH",
      url: "/api/v1/assets/web-1",
      headers: { ...admin, "content-type": "application/json" },
      payload: { labels: { set: { tier: "not a label value!" } } },
    });
    expect(badValue.statusCode).toBe(400);
    expect(badValue.json()).toMatchObject({
      error: { where: expect.stringMatching(/^\/body\/labels\/set/) },
    });
    const badState = await app.inject({ method: "GET", url: "/api/v1/rollouts?state=nope", headers: admin });
    expect(badState.json()).toMatchObject({ error: { where: "/query/state" } });
  });

  it("answers unknown routes, and the docs page, like everything else", async () => {
    const missing = await app.inject({ method: "GET", url: "/api/v1/nope" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: "not_found", reason: "request.route-not-found" } });
    const docs = await app.inject({ method: "GET", url: "/docs" });
    expect([200, 302]).toContain(docs.statusCode);
    const page = await app.inject({ method: "GET", url: "/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("swagger");
  });
});

describe("the CLI on the paged API", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("api-conventions", "admin-token-for-api-conventions");
    // More assets than one page of the largest size: the CLI has to follow the cursor.
    const ctx = server.server.ctx;
    for (let i = 0; i < 1005; i++) {
      await createAsset(ctx, SYSTEM_ACTOR, `host-${String(i).padStart(4, "0")}`, { environment: "prod" });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it("prints every item of a list as one JSON array, page after page", async () => {
    const listed = await runCli(["assets", "list", "--json"], server.env);
    expect(listed.code, listed.stderr).toBe(0);
    const assets = JSON.parse(listed.stdout) as Array<{ name: string }>;
    expect(Array.isArray(assets)).toBe(true);
    expect(assets).toHaveLength(1005);
    expect(new Set(assets.map((a) => a.name)).size).toBe(1005);
  });

  it("names the flag, not the HTTP request, when the server refuses an input", async () => {
    const bad = await runCli(["findings", "list", "--class", "urgent"], server.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --class: /);
    expect(bad.stderr).not.toContain("/query");
  });
});
