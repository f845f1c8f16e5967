import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { Migrator } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MAX_ARTIFACT_BYTES } from "../src/artifacts/artifact.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { createEnrollmentToken, MAX_ENROLLMENT_TTL_SECONDS } from "../src/auth/enrollment-tokens.js";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildApp } from "../src/server/app.js";
import { BODY_LIMITS, DEFAULT_BODY_LIMIT } from "../src/server/body-limits.js";
import type { ServiceContext } from "../src/service/context.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import { type DialectName, migrateToLatest, openStore } from "../src/store/store.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { spawnServer, sqliteServerEnv } from "./helpers/server-process.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const HOUR = 3_600_000;
const MiB = 1024 * 1024;

interface EnrollToken {
  id: string;
  token: string;
  expiresAt: string;
}

describe.each(DIALECTS)("enrollment on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let clock = new Date("2026-11-20T10:00:00Z");
  let admin = "";
  let operator = "";

  const call = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, token: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const newEnrollToken = async (body: Record<string, unknown> = {}): Promise<EnrollToken> => {
    const r = await call("POST", "/api/v1/agent-tokens", admin, body);
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as EnrollToken;
  };
  const enroll = (token: string, name: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/api/v1/agent/enroll", token, { name, ...extra });
  const credentialOf = (r: { json(): unknown }) => (r.json() as { credential: string }).credential;
  const auditActions = async () =>
    (await store.db.selectFrom("audit_events").select("action").orderBy("seq").execute()).map(
      (e) => e.action,
    );

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    operator = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "op", role: "operator" })).token;
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("an enrollment token cannot take over an existing asset", async () => {
    const first = await newEnrollToken();
    const enrolled = await enroll(first.token, "victim", { environment: "prod" });
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    const credential = credentialOf(enrolled);
    const report = await call("PUT", "/api/v1/agent/inventory", credential, {
      packages: [{ ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u2", arch: "amd64" }],
    });
    expect(report.statusCode, report.body).toBe(200);

    // Another holder of any enrollment token (here a reusable one) asks for the same name.
    const attacker = await newEnrollToken({ reusable: true });
    const takeover = await enroll(attacker.token, "victim");
    expect(takeover.statusCode, takeover.body).toBe(409);
    expect(takeover.json()).toMatchObject({
      error: { code: "conflict", reason: "enroll.asset-exists", where: "/body/name" },
    });

    // The real agent keeps its credential and its inventory.
    const beat = await call("POST", "/api/v1/agent/heartbeat", credential, {});
    expect(beat.statusCode, beat.body).toBe(200);
    const asset = await call("GET", "/api/v1/assets/victim", admin);
    expect((asset.json() as { packages: unknown[] }).packages).toHaveLength(1);
    // A refused enrollment uses nothing up: the token still enrolls a new asset.
    expect((await enroll(attacker.token, "fresh-host")).statusCode).toBe(200);
  });

  it("an asset created by an import is not free to claim either", async () => {
    const imported = await call("POST", "/api/v1/inventory/import", operator, {
      asset: "imported-host",
      format: "dpkg",
      content: "Package: a\nStatus: install ok installed\nVersion: 1.0\n",
    });
    expect(imported.statusCode, imported.body).toBe(200);
    const t = await newEnrollToken();
    expect((await enroll(t.token, "imported-host")).statusCode).toBe(409);
  });

  it("an admin allows one re-enrollment of an asset, which expires", async () => {
    const t = await newEnrollToken({ reusable: true });
    const old = await enroll(t.token, "reinstalled");
    expect(old.statusCode).toBe(200);
    await call("PUT", "/api/v1/agent/inventory", credentialOf(old), {
      packages: [{ ecosystem: "Debian:12", name: "bash", version: "5.2.15-2+b2", arch: "amd64" }],
    });

    // Only an admin may allow it; an unknown asset is a 404.
    expect((await call("POST", "/api/v1/assets/reinstalled/reenroll", operator, {})).statusCode).toBe(403);
    const unknown = await call("POST", "/api/v1/assets/nope/reenroll", admin, {});
    expect(unknown.statusCode).toBe(404);

    const allowed = await call("POST", "/api/v1/assets/reinstalled/reenroll", admin, {});
    expect(allowed.statusCode, allowed.body).toBe(200);
    expect(allowed.json()).toMatchObject({
      asset: "reinstalled",
      expiresAt: new Date(clock.getTime() + 24 * HOUR).toISOString(),
    });
    const again = await enroll(t.token, "reinstalled", { environment: "ignored" });
    expect(again.statusCode, again.body).toBe(200);
    // The old credential is revoked; the asset keeps its inventory and placement.
    expect((await call("POST", "/api/v1/agent/heartbeat", credentialOf(old), {})).statusCode).toBe(401);
    expect((await call("POST", "/api/v1/agent/heartbeat", credentialOf(again), {})).statusCode).toBe(200);
    const asset = (await call("GET", "/api/v1/assets/reinstalled", admin)).json() as {
      environment: string;
      packages: unknown[];
    };
    expect(asset).toMatchObject({ environment: "" });
    expect(asset.packages).toHaveLength(1);

    // Single-use.
    expect((await enroll(t.token, "reinstalled")).statusCode).toBe(409);
    // And it expires: an allowance not used within its lifetime is gone.
    await call("POST", "/api/v1/assets/reinstalled/reenroll", admin, { ttlSeconds: 3600 });
    clock = new Date(clock.getTime() + HOUR + 1000);
    expect((await enroll(t.token, "reinstalled")).statusCode).toBe(409);
    // A bounded lifetime: over a week is refused with a pointer.
    const long = await call("POST", "/api/v1/assets/reinstalled/reenroll", admin, { ttlSeconds: 1e30 });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toMatchObject({ error: { where: "/body/ttlSeconds" } });

    const actions = await auditActions();
    expect(actions.filter((a) => a === "asset.reenrollment-allowed")).toHaveLength(2);
    const enrolled = await store.db
      .selectFrom("audit_events")
      .select("data")
      .where("action", "=", "agent.enrolled")
      .orderBy("seq", "desc")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(enrolled.data)).toMatchObject({ asset: "reinstalled", reenrolled: true });
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("two agents racing for one allowance, one one-time token or one new name: exactly one wins", async () => {
    const t = await newEnrollToken({ reusable: true });
    expect((await enroll(t.token, "contested")).statusCode).toBe(200);
    await call("POST", "/api/v1/assets/contested/reenroll", admin, {});
    const reenrolls = await Promise.all([1, 2, 3].map(() => enroll(t.token, "contested")));
    expect(reenrolls.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);

    const once = await newEnrollToken();
    const names = await Promise.all(["race-a", "race-b", "race-c"].map((n) => enroll(once.token, n)));
    expect(names.map((r) => r.statusCode).sort()).toEqual([200, 401, 401]);

    const same = await Promise.all([1, 2, 3].map(() => enroll(t.token, "same-new-name")));
    expect(same.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
  });

  it("enrollment tokens expire after a day by default, reusable ones too", async () => {
    const oneTime = await newEnrollToken();
    const reusable = await newEnrollToken({ reusable: true });
    const custom = await newEnrollToken({ reusable: true, ttlSeconds: 7 * 24 * 3600 });
    const day = new Date(clock.getTime() + 24 * HOUR).toISOString();
    expect(oneTime.expiresAt).toBe(day);
    expect(reusable.expiresAt).toBe(day);
    expect(custom.expiresAt).toBe(new Date(clock.getTime() + 7 * 24 * HOUR).toISOString());
    expect((await enroll(reusable.token, "early-bird")).statusCode).toBe(200);

    clock = new Date(clock.getTime() + 24 * HOUR);
    for (const t of [oneTime, reusable]) {
      const r = await enroll(t.token, `late-${t.id.slice(0, 8)}`);
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ error: { code: "unauthenticated", reason: "enroll.token-refused" } });
    }
    expect((await enroll(custom.token, "still-valid")).statusCode).toBe(200);
  });

  it.each([
    ["1e30", 1e30],
    ["2^53", 2 ** 53],
    ["a year and a second", MAX_ENROLLMENT_TTL_SECONDS + 1],
    ["zero", 0],
    ["negative", -5],
    ["a fraction", 1.5],
  ])("a lifetime of %s is a 400 with a pointer and creates nothing", async (_name, ttlSeconds) => {
    const before = await store.db.selectFrom("enrollment_tokens").select("id").execute();
    const r = await call("POST", "/api/v1/agent-tokens", admin, { ttlSeconds });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "validation", where: "/body/ttlSeconds" } });
    expect(await store.db.selectFrom("enrollment_tokens").select("id").execute()).toHaveLength(before.length);
    // The service itself refuses it too, for callers other than the API.
    await expect(createEnrollmentToken(ctx, SYSTEM_ACTOR, { ttlSeconds })).rejects.toMatchObject({
      reason: "enroll.ttl-out-of-range",
      where: "/ttlSeconds",
    });
  });

  it("lists, shows and revokes enrollment tokens with the assets they enrolled", async () => {
    const used = await newEnrollToken();
    expect((await enroll(used.token, "single-host")).statusCode).toBe(200);
    const t = await newEnrollToken({ reusable: true });
    for (const name of ["fleet-1", "fleet-2", "fleet-3", "fleet-4", "fleet-5", "fleet-6"]) {
      clock = new Date(clock.getTime() + 1000);
      expect((await enroll(t.token, name)).statusCode).toBe(200);
    }
    const list = (
      (await call("GET", "/api/v1/agent-tokens", admin)).json() as {
        items: Array<{
          id: string;
          status: string;
          useCount: number;
          assetCount: number;
          assets: Array<{ assetName: string }>;
        }>;
      }
    ).items;
    const listed = list.find((x) => x.id === t.id);
    expect(listed).toMatchObject({ status: "active", useCount: 6, assetCount: 6 });
    expect(listed?.assets.map((a) => a.assetName)).toEqual([
      "fleet-6",
      "fleet-5",
      "fleet-4",
      "fleet-3",
      "fleet-2",
    ]);
    expect(JSON.stringify(list)).not.toContain(t.token);
    expect(list.some((x) => x.status === "expired")).toBe(true);
    expect(list.some((x) => x.status === "used")).toBe(true);

    const shown = (await call("GET", `/api/v1/agent-tokens/${t.id}`, admin)).json() as {
      assets: Array<{ assetName: string }>;
    };
    expect(shown.assets).toHaveLength(6);

    const revoked = await call("DELETE", `/api/v1/agent-tokens/${t.id}`, admin);
    expect(revoked.statusCode).toBe(204);
    expect((await call("DELETE", `/api/v1/agent-tokens/${t.id}`, admin)).statusCode).toBe(204);
    expect((await enroll(t.token, "fleet-7")).statusCode).toBe(401);
    expect((await call("GET", `/api/v1/agent-tokens/${t.id}`, admin)).json()).toMatchObject({
      status: "revoked",
    });
    expect((await call("DELETE", "/api/v1/agent-tokens/no-such-id", admin)).statusCode).toBe(404);
    expect((await auditActions()).filter((a) => a === "enrollment-token.revoked")).toHaveLength(1);
    // Agents it enrolled keep working.
    const agents = await store.db
      .selectFrom("api_tokens")
      .select("id")
      .where("created_by", "=", `enrollment-token:${t.id}`)
      .where("revoked_at", "is", null)
      .execute();
    expect(agents).toHaveLength(6);
  });

  it("refuses a bad enrollment token before reading the body, and an oversized body with 413", async () => {
    const t = await newEnrollToken({ reusable: true });
    const big = { name: "big-host", hostname: "x".repeat(100 * 1024) };
    const refused = await call("POST", "/api/v1/agent/enroll", "ape_not-a-token", big);
    expect(refused.statusCode).toBe(401);
    const tooLarge = await call("POST", "/api/v1/agent/enroll", t.token, big);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toEqual({
      error: {
        code: "validation",
        reason: "request.body-too-large",
        message: expect.stringContaining(String(BODY_LIMITS["POST /api/v1/agent/enroll"])),
        where: "/body",
      },
    });
    // The token was not used by the refused request.
    expect((await enroll(t.token, "small-host")).statusCode).toBe(200);
  });

  it("gives each route a body limit that fits it", async () => {
    const pad = (bytes: number) => "x".repeat(bytes);
    // A policy may be up to a million characters: a 1.5 MB one is read (and judged on its content).
    const policy = await call("POST", "/api/v1/policies", admin, { name: "p", content: pad(1_500_000) });
    expect(policy.statusCode).not.toBe(413);
    // Routes with small bodies take the small default.
    const token = await call("POST", "/api/v1/tokens", admin, {
      name: pad(DEFAULT_BODY_LIMIT),
      role: "viewer",
    });
    expect(token.statusCode).toBe(413);
    const t = await newEnrollToken();
    const agent = credentialOf(await enroll(t.token, "limits-host"));
    const beat = await call("POST", "/api/v1/agent/heartbeat", agent, { agentVersion: pad(8 * 1024) });
    expect(beat.statusCode).toBe(413);
    // Inventory reports are large: a 40 MB one is read (and refused for its content, not its size).
    const report = await call("PUT", "/api/v1/agent/inventory", agent, { packages: pad(40 * MiB) });
    expect(report.statusCode).toBe(400);
    expect(report.json()).toMatchObject({ error: { where: "/body/packages" } });
    // Each listed limit names a route that exists (a renamed route would fall back to the default),
    // and none is over 64 MiB but the upload of a package file, which is the file's size.
    for (const [key, limit] of Object.entries(BODY_LIMITS)) {
      const [method = "", url = ""] = key.split(" ");
      expect(app.hasRoute({ method: method as "POST", url }), key).toBe(true);
      expect(limit).toBeLessThanOrEqual(key === "POST /api/v1/artifacts" ? MAX_ARTIFACT_BYTES : 64 * MiB);
    }
  });
});

/** A store migrated only up to the migration before `name`, to test an upgrade to it. */
async function storeBefore(dialect: DialectName, name: string) {
  let url: string;
  let drop: () => Promise<void>;
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-upgrade-"));
    url = `sqlite:${join(dir, "test.db")}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const base = inject("pgBaseUrl");
    const db = `t_${randomBytes(6).toString("hex")}`;
    const client = new pg.Client({ connectionString: `${base}/postgres` });
    await client.connect();
    await client.query(`create database ${db}`);
    await client.end();
    url = `${base}/${db}`;
    drop = async () => {
      const admin = new pg.Client({ connectionString: `${base}/postgres` });
      await admin.connect();
      // A closed pool's backends leave within moments; until then the drop reports 55006.
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.query(`drop database if exists ${db}`);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== "55006" || attempt >= 50) throw err;
          await sleep(100);
        }
      }
      await admin.end();
    };
  }
  const store = await openStore(url, { migrate: false });
  const previous = Object.keys(MIGRATIONS)
    .filter((m) => m < name)
    .at(-1);
  const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error } = await migrator.migrateTo(previous ?? "");
  if (error) throw error;
  return {
    store,
    dispose: async () => {
      await store.close();
      await drop();
    },
  };
}

describe.each(DIALECTS)("upgrading to enrollment token lifetimes on %s", (dialect) => {
  it("gives tokens that never expired a day from the upgrade, and leaves the others alone", async () => {
    const { store, dispose } = await storeBefore(dialect, "0007-enrollment");
    try {
      const legacy = (id: string, expires: string | null, revoked: string | null) => ({
        id,
        token_hash: id,
        reusable: 1,
        use_count: 0,
        created_at: "2026-01-01T00:00:00.000Z",
        created_by: "system",
        expires_at: expires,
        revoked_at: revoked,
      });
      await store.db
        .insertInto("enrollment_tokens")
        .values([
          legacy("forever", null, null),
          legacy("dated", "2026-02-01T00:00:00.000Z", null),
          legacy("revoked", null, "2026-01-02T00:00:00.000Z"),
        ])
        .execute();
      const before = Date.now();
      await migrateToLatest(store);
      const rows = await store.db.selectFrom("enrollment_tokens").selectAll().orderBy("id").execute();
      const byId = Object.fromEntries(rows.map((r) => [r.id, r.expires_at]));
      expect(Date.parse(byId.forever ?? "") - before).toBeGreaterThanOrEqual(24 * HOUR - 1000);
      expect(Date.parse(byId.forever ?? "") - before).toBeLessThanOrEqual(24 * HOUR + 60_000);
      expect(byId.dated).toBe("2026-02-01T00:00:00.000Z");
      expect(byId.revoked).toBeNull();
    } finally {
      await dispose();
    }
  });
});

/** Streams `bytes` of a JSON body; stops sending once the server answers. */
function postLarge(
  url: string,
  path: string,
  bytes: number,
  options: { bearer?: string; chunked?: boolean },
): Promise<number | null> {
  return new Promise((resolve) => {
    const prefix = Buffer.from('{"name":"big","hostname":"');
    const suffix = Buffer.from('"}');
    const chunk = Buffer.alloc(MiB, "a");
    const req = httpRequest(`${url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.chunked ? {} : { "content-length": String(bytes) }),
        ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
      },
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      res.resume();
      res.on("end", () => {
        req.destroy();
        resolve(res.statusCode ?? null);
      });
    });
    req.on("error", () => resolve(null));
    let sent = 0;
    const send = () => {
      if (sent === 0) {
        req.write(prefix);
        sent += prefix.length;
      }
      while (!answered && sent < bytes - suffix.length) {
        const n = Math.min(chunk.length, bytes - suffix.length - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once("drain", send);
          return;
        }
      }
      if (!answered) req.end(suffix);
    };
    send();
  });
}

describe("unauthenticated large bodies to enroll", () => {
  let dir = "";
  let server: Awaited<ReturnType<typeof spawnServer>>;
  const adminToken = "apt_large-body-test-admin-token";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-bodies-"));
    server = await spawnServer(sqliteServerEnv(dir, adminToken));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the server's memory flat and /healthz fast", { timeout: 60_000 }, async () => {
    for (let i = 0; i < 20; i++) await fetch(`${server.url}/healthz`);
    await postLarge(server.url, "/api/v1/agent/enroll", 1024, {});
    const baseline = server.rssBytes();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, server.rssBytes());
    }, 10);
    let slowest = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        const r = await fetch(`${server.url}/healthz`);
        await r.text();
        slowest = Math.max(slowest, performance.now() - started);
      }
    })();
    const statuses = await Promise.all([
      postLarge(server.url, "/api/v1/agent/enroll", 50 * MiB, {}),
      postLarge(server.url, "/api/v1/agent/enroll", 50 * MiB, {}),
      postLarge(server.url, "/api/v1/agent/enroll", 50 * MiB, { bearer: "ape_guessed" }),
      postLarge(server.url, "/api/v1/agent/enroll", 50 * MiB, { chunked: true }),
      postLarge(server.url, "/api/v1/agent/enroll", 50 * MiB, { bearer: "ape_guessed", chunked: true }),
    ]);
    probing = false;
    await probe;
    clearInterval(sampler);
    peak = Math.max(peak, server.rssBytes());
    expect((peak - baseline) / MiB, "RSS growth in MiB").toBeLessThan(50);
    expect(slowest, "slowest /healthz in ms").toBeLessThan(1000);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
  });
});

describe("enrollment from the CLI", () => {
  let test: TestServer;
  const adminToken = "apt_enrollment-cli-admin-token";

  beforeAll(async () => {
    test = await startTestServer("enroll-cli", adminToken);
  });
  afterAll(async () => test?.close());

  it("creates tokens with a lifetime, lists, shows and revokes them, and allows a re-enrollment", async () => {
    const env = test.env;
    const created = await runCli(["agent-token", "create", "--reusable", "--ttl", "2h", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as EnrollToken;
    expect(Date.parse(token.expiresAt) - Date.now()).toBeGreaterThan(2 * HOUR - 60_000);
    expect(Date.parse(token.expiresAt) - Date.now()).toBeLessThanOrEqual(2 * HOUR);

    const huge = await runCli(["agent-token", "create", "--ttl", "100000d", "--json"], env);
    expect(huge.code).toBe(2);
    expect(JSON.parse(huge.stderr)).toMatchObject({
      error: { where: "--ttl", details: { requestWhere: "/body/ttlSeconds" } },
    });

    const url = `${test.server.url}/api/v1/agent/enroll`;
    const enroll = (name: string) =>
      fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
    expect((await enroll("cli-host")).status).toBe(200);
    expect((await enroll("cli-host")).status).toBe(409);

    const reenroll = await runCli(["assets", "reenroll", "cli-host"], env);
    expect(reenroll.code, reenroll.stderr).toBe(0);
    expect(reenroll.stdout).toMatch(/one agent may enroll as cli-host until/);
    expect((await enroll("cli-host")).status).toBe(200);
    const viewer = await runCli(["token", "create", "--role", "operator", "--name", "ops", "--json"], env);
    const asOperator = { ...env, AUTOPATCH_TOKEN: (JSON.parse(viewer.stdout) as { token: string }).token };
    expect((await runCli(["assets", "reenroll", "cli-host"], asOperator)).code).toBe(5);

    const list = await runCli(["agent-token", "list"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ASSETS/);
    expect(list.stdout).toContain("cli-host");
    expect(list.stdout).not.toContain(token.token);
    const shown = await runCli(["agent-token", "show", token.id, "--json"], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      assetCount: 2,
      assets: [
        { assetName: "cli-host", reenrolled: true },
        { assetName: "cli-host", reenrolled: false },
      ],
    });

    expect((await runCli(["agent-token", "revoke", token.id], env)).code).toBe(0);
    expect((await enroll("other-host")).status).toBe(401);
    expect((await runCli(["agent-token", "revoke", "no-such-id"], env)).code).toBe(3);
  });
});
