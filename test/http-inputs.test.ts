import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { MAX_COMPONENT_DEPTH } from "../src/inventory/importers/cyclonedx.js";
import { buildApp } from "../src/server/app.js";
import { MAX_PARAM_LENGTH, MAX_URL_LENGTH } from "../src/server/request-limits.js";
import type { ServiceContext } from "../src/service/context.js";
import { runCli } from "./helpers/cli.js";
import { aliasBomb, nestedCycloneDx } from "./helpers/hostile-inputs.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

interface Envelope {
  error: { code: string; reason: string; message: string; where?: string };
}

/** The status and the error envelope of a refused request; fails when the body is not the envelope. */
function refusal(response: { statusCode: number; body: string }): { status: number } & Envelope["error"] {
  const body = JSON.parse(response.body) as Envelope;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.reason).toBe("string");
  expect(typeof body.error.message).toBe("string");
  return { status: response.statusCode, ...body.error };
}

async function counts(ctx: ServiceContext): Promise<{ policies: number; audit: number; packages: number }> {
  const one = async (table: "policies" | "audit_events" | "installed_packages") =>
    Number(
      (
        await ctx.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    policies: await one("policies"),
    audit: await one("audit_events"),
    packages: await one("installed_packages"),
  };
}

describe.each(DIALECTS)("hostile request input on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let admin: Record<string, string>;
  let viewer: Record<string, string>;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    app = await buildApp(ctx);
    const bearer = async (name: string, role: "admin" | "viewer") =>
      `Bearer ${(await createApiToken(ctx, SYSTEM_ACTOR, { name, role })).token}`;
    admin = { authorization: await bearer("root", "admin"), "content-type": "application/json" };
    viewer = { authorization: await bearer("watcher", "viewer") };
    await createAsset(ctx, SYSTEM_ACTOR, "web-1", { environment: "prod" });
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  const post = (url: string, payload: string) => app.inject({ method: "POST", url, headers: admin, payload });

  it.each([
    [
      "a policy's content",
      "/api/v1/policies",
      '{"content":"name: x\\ndescription: caf\\ud800\\n"}',
      "/body/content",
    ],
    [
      "an inventory import's asset name",
      "/api/v1/inventory/import",
      '{"asset":"web-\\udc00","format":"dpkg","content":"Package: a\\n"}',
      "/body/asset",
    ],
    [
      "an object key",
      "/api/v1/inventory/import",
      '{"asset":"web-1","format":"dpkg","content":"","placement":{"\\ud800":"x"}}',
      "/body/placement/\ud800",
    ],
  ])(
    "refuses a lone surrogate in %s with a 400 at its pointer, changing nothing",
    async (_what, url, payload, where) => {
      const before = await counts(ctx);
      expect(refusal(await post(url, payload))).toMatchObject({
        status: 400,
        code: "validation",
        reason: "input.lone-surrogate",
        where,
      });
      expect(await counts(ctx)).toEqual(before);
    },
  );

  it("refuses a lone surrogate inside an imported SBOM at its pointer in the file", async () => {
    const sbom = JSON.stringify({
      bomFormat: "CycloneDX",
      specVersion: "1.5",
      components: [
        { name: "ok", purl: "pkg:npm/ok@1" },
        { name: "bad\\ud800", purl: "pkg:npm/bad@1" },
      ],
    }).replace("\\\\ud800", "\\ud800");
    const response = await post(
      "/api/v1/inventory/import",
      JSON.stringify({ asset: "web-1", format: "cyclonedx", file: "bom.json", content: sbom }),
    );
    expect(refusal(response)).toMatchObject({
      status: 400,
      reason: "input.lone-surrogate",
      where: "bom.json#/components/1/name",
    });
  });

  it("refuses a CycloneDX SBOM nested 5,000 deep with a 400 and a pointer, and the server stays up", async () => {
    const before = await counts(ctx);
    for (const [depth, pattern] of [
      [5_000, /^bom\.json#(\/components\/0)+/],
      [
        MAX_COMPONENT_DEPTH + 1,
        new RegExp(`^bom\\.json#(/components/0){${MAX_COMPONENT_DEPTH}}/components$`),
      ],
    ] as const) {
      const response = await post(
        "/api/v1/inventory/import",
        JSON.stringify({
          asset: "web-1",
          format: "cyclonedx",
          file: "bom.json",
          content: nestedCycloneDx(depth),
        }),
      );
      const error = refusal(response);
      expect(error).toMatchObject({ status: 400, reason: "input.too-deep" });
      expect(error.where).toMatch(pattern);
    }
    expect(await counts(ctx)).toEqual(before);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
  });

  it("refuses a YAML alias bomb in a policy with a 400 at the first alias, quickly", async () => {
    const before = await counts(ctx);
    const started = Date.now();
    const response = await post(
      "/api/v1/policies",
      JSON.stringify({ content: aliasBomb(), file: "bomb.yaml" }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refusal(response)).toMatchObject({
      status: 400,
      reason: "input.yaml-aliases",
      where: "bomb.yaml:4:10",
    });
    expect(await counts(ctx)).toEqual(before);
  });

  it.each([
    ["GET", "/api/v1/nothing-here"],
    ["GET", "/nope"],
    ["DELETE", "/api/v1/policies"],
  ])("answers the unknown route %s %s with a 404 in the envelope", async (method, url) => {
    const headers = { authorization: admin.authorization ?? "" };
    const response = await app.inject({ method: method as "GET" | "DELETE", url, headers });
    expect(refusal(response)).toMatchObject({
      status: 404,
      code: "not_found",
      reason: "request.route-not-found",
      where: "/url",
    });
  });

  it("answers over-long ids and query strings with a 414 in the envelope", async () => {
    const longId = await app.inject({
      method: "GET",
      url: `/api/v1/assets/${"a".repeat(MAX_PARAM_LENGTH + 1)}`,
      headers: admin,
    });
    expect(refusal(longId)).toMatchObject({ status: 414, reason: "request.uri-too-long", where: "/params" });
    const longQuery = await app.inject({
      method: "GET",
      url: `/api/v1/assets?selector=${"a".repeat(MAX_URL_LENGTH)}`,
      headers: admin,
    });
    expect(refusal(longQuery)).toMatchObject({ status: 414, reason: "request.uri-too-long", where: "/url" });
    // Under the limits an id is looked up as usual.
    const missing = await app.inject({
      method: "GET",
      url: `/api/v1/assets/${"a".repeat(300)}`,
      headers: admin,
    });
    expect(refusal(missing)).toMatchObject({ status: 404, code: "not_found" });
  });

  it("answers a path that does not decode, and a body that is not JSON, in the envelope", async () => {
    expect(
      refusal(await app.inject({ method: "GET", url: "/api/v1/assets/%ED%A0%80", headers: admin })),
    ).toMatchObject({ status: 400, where: "/url" });
    expect(refusal(await post("/api/v1/policies", '{"content":'))).toMatchObject({
      status: 400,
      reason: "request.invalid-json",
      where: "/body",
    });
  });

  it.each([
    ['{"content":"name: x\\n","__proto__":{"admin":true}}'],
    ['{"content":"name: x\\n","constructor":{"prototype":{"admin":true}}}'],
    ['{"content":"name: x\\n","\\u005f_proto__":{"admin":true}}'],
    ['{"content":"name: x\\n","c\\u006fnstructor":{"prototype":{"admin":true}}}'],
  ])(
    "refuses a body with a prototype-poisoning key (%s) as invalid JSON, changing nothing",
    async (payload) => {
      const before = await counts(ctx);
      expect(refusal(await post("/api/v1/policies", payload))).toMatchObject({
        status: 400,
        reason: "request.invalid-json",
        where: "/body",
      });
      expect(await counts(ctx)).toEqual(before);
    },
  );

  it.each([
    ["an unknown role in fromRoles", "name: p1\napprovals:\n  fromRoles: [approver, cab]\n", "p.yaml:3:25"],
    ["a broken selector in ordering", "name: p2\nordering:\n  - selector: 'group in (a'\n", "p.yaml:3:15"],
    ["a policy name with a slash", "name: team/web\n", "p.yaml:1:7"],
    ["an empty file", "", "p.yaml:1:1"],
  ])("refuses %s on apply where validate does", async (_what, content, where) => {
    const response = await post("/api/v1/policies", JSON.stringify({ content, file: "p.yaml" }));
    expect(refusal(response)).toMatchObject({ status: 400, code: "validation", where });
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254, a linkLocal address"],
    ["http://127.0.0.1:9/hook", "127.0.0.1, a loopback address"],
    ["http://[::ffff:10.0.0.1]/hook", "10.0.0.1, a private address"],
    ["http://localhost:8080/hook", "points at localhost"],
    ["file:///etc/passwd", "is not an http or https URL"],
  ])("refuses the webhook %s on apply, pointing into the policy", async (url, message) => {
    const content = `name: hooks\nnotifications:\n  webhooks:\n    - name: h\n      url: "${url}"\n`;
    const error = refusal(await post("/api/v1/policies", JSON.stringify({ content, file: "hooks.yaml" })));
    expect(error).toMatchObject({ status: 400, where: "hooks.yaml:5:12" });
    expect(error.message).toContain(message);
  });

  it("shows webhook URLs whole to admins and by origin only to everyone else", async () => {
    const secret = "https://hooks.slack.com/services/T000/B000/s3cretPath?token=s3cretQuery";
    const content = `name: shown\n# posts to ${secret}\nnotifications:\n  webhooks:\n    - {name: chat, url: "${secret}", format: slack}\n`;
    expect((await post("/api/v1/policies", JSON.stringify({ content }))).statusCode).toBe(201);
    const asAdmin = await app.inject({ method: "GET", url: "/api/v1/policies/shown", headers: admin });
    expect(asAdmin.body).toContain("s3cretPath");
    const asViewer = await app.inject({ method: "GET", url: "/api/v1/policies/shown", headers: viewer });
    expect(asViewer.statusCode).toBe(200);
    expect(asViewer.body).not.toContain("s3cret");
    const shown = JSON.parse(asViewer.body) as {
      content: string;
      policy: { notifications: { webhooks: Array<{ url: string }> } };
    };
    expect(shown.policy.notifications.webhooks[0]?.url).toBe("https://hooks.slack.com/…");
    expect(shown.content).toContain("https://hooks.slack.com/…");
  });
});

describe("limits Node's HTTP parser enforces, on a listening server", () => {
  let testServer: TestServer | undefined;
  const token = "apt_http-inputs-admin-token-0123456789";

  beforeAll(async () => {
    testServer = await startTestServer("http-inputs", token, { webhookAllow: ["127.0.0.1"] });
  });
  afterAll(async () => testServer?.close());

  /** A raw request, so that headers larger than any client library sends reach the server. */
  const raw = (headers: Record<string, string>): Promise<{ statusCode: number; body: string }> =>
    new Promise((resolve, reject) => {
      const url = new URL("/api/v1/assets", testServer?.server.url);
      const req = httpRequest(url, { method: "GET", headers }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on("end", () => resolve({ statusCode: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });

  it("answers headers past 16 KiB with a 431 in the envelope", async () => {
    const response = await raw({ authorization: `Bearer ${token}`, "x-padding": "p".repeat(20_000) });
    expect(refusal(response)).toMatchObject({
      status: 431,
      reason: "request.headers-too-large",
      where: "/headers",
    });
    // The server goes on answering.
    expect((await raw({ authorization: `Bearer ${token}` })).statusCode).toBe(200);
  });

  it("accepts a loopback webhook when the server is started with an allow-list for it", async () => {
    const response = await fetch(`${testServer?.server.url}/api/v1/policies`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        content: "name: local\nnotifications:\n  webhooks: [{name: h, url: 'http://127.0.0.1:9/hook'}]\n",
      }),
    });
    expect(response.status).toBe(201);
  });
});

describe("policy validate checks what apply checks", () => {
  let dir: string;
  let testServer: TestServer | undefined;
  const token = "apt_policy-check-admin-token-0123456789";

  beforeAll(async () => {
    testServer = await startTestServer("policy-check", token);
    dir = testServer.dir;
  });
  afterAll(async () => testServer?.close());

  it.each([
    ["bomb.yaml", aliasBomb(), "bomb.yaml:4:10: YAML aliases expand past 100 nodes"],
    [
      "roles.yaml",
      "name: r\napprovals:\n  fromRoles: [cab]\n",
      'roles.yaml:3:15: approvals.fromRoles[0]: "cab" is not a role',
    ],
    [
      "ring.yaml",
      "name: o\nordering:\n  - selector: 'a in (b'\n",
      'ring.yaml:3:15: ordering[0].selector: "a in (b" is not a selector',
    ],
    ["slash.yaml", "name: a/b\n", 'slash.yaml:1:7: name: policy name "a/b" is not'],
    ["empty.yaml", "", "empty.yaml:1:1: the policy file is empty"],
    [
      "meta.yaml",
      "notifications:\n  webhooks: [{name: m, url: 'http://169.254.169.254/'}]\n",
      "meta.yaml:2:29: m.url points at 169.254.169.254",
    ],
  ])(
    "refuses %s in validate (exit 2) and in apply (exit 2) at the same place",
    async (name, content, line) => {
      const file = join(dir, name);
      writeFileSync(file, content);
      const validated = await runCli(["policy", "validate", file]);
      expect(validated.code).toBe(2);
      expect(validated.stderr).toContain(line.replace(name, file));
      const applied = await runCli(["policy", "apply", file], testServer?.env ?? {});
      expect(applied.code).toBe(2);
      expect(applied.stderr).toContain(line.replace(name, file).split(": ")[0]);
    },
  );

  it("takes the server's allow-list for webhook destinations", async () => {
    const file = join(dir, "local.yaml");
    writeFileSync(file, "name: l\nnotifications:\n  webhooks: [{name: h, url: 'http://127.0.0.1:9/h'}]\n");
    expect((await runCli(["policy", "validate", file])).code).toBe(2);
    expect((await runCli(["policy", "validate", "--webhook-allow", "127.0.0.0/8", file])).code).toBe(0);
    expect((await runCli(["policy", "validate", file], { AUTOPATCH_WEBHOOK_ALLOW: "127.0.0.1" })).code).toBe(
      0,
    );
    const bad = await runCli(["policy", "validate", "--webhook-allow", "10.0.0.0/99", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--webhook-allow");
  });
});
