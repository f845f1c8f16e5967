import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildApp } from "../src/server/app.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const HOUR = 3_600_000;

describe.each(DIALECTS)("enrollment on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let app: FastifyInstance;
  const clock = new Date("2026-11-20T10:00:00Z");
  let admin = "";
  let operator = "";

  const call = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, token: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const newEnrollToken = async (body: Record<string, unknown> = {}) => {
    const r = await call("POST", "/api/v1/agent-tokens", admin, body);
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as { id: string; token: string; expiresAt: string | null };
  };
  const enroll = (token: string, name: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/api/v1/agent/enroll", token, { name, ...extra });

  beforeAll(async () => {
    store = await freshStore(dialect);
    const ctx = contextFor(store, () => clock);
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
    const credential = (enrolled.json() as { credential: string }).credential;
    const report = await call("PUT", "/api/v1/agent/inventory", credential, {
      packages: [{ ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u2", arch: "amd64" }],
    });
    expect(report.statusCode, report.body).toBe(200);

    // Another holder of any enrollment token (here a reusable one) asks for the same name.
    const attacker = await newEnrollToken({ reusable: true });
    const takeover = await enroll(attacker.token, "victim");
    expect(takeover.statusCode, takeover.body).toBe(409);
    expect(takeover.json()).toMatchObject({
      error: { code: "conflict", reason: "enroll.asset-exists", where: "/name" },
    });

    // The real agent keeps its credential and its inventory.
    const beat = await call("POST", "/api/v1/agent/heartbeat", credential, {});
    expect(beat.statusCode, beat.body).toBe(200);
    const asset = await call("GET", "/api/v1/assets/victim", admin);
    expect((asset.json() as { packages: unknown[] }).packages).toHaveLength(1);
    // A refused enrollment uses nothing up: the token still enrolls a new asset.
    expect((await enroll(attacker.token, "fresh-host")).statusCode).toBe(200);
  });
});
