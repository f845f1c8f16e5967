import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PROTOCOL_HEADER } from "../src/agent/protocol.js";
import type { ArtifactMeta } from "../src/artifacts/artifact.js";
import { verifyArtifactDigest } from "../src/artifacts/signature.js";
import { type AuditSigningKey, loadSigningKey } from "../src/audit/signing-key.js";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import { buildApp } from "../src/server/app.js";
import { BODY_LIMITS } from "../src/server/body-limits.js";
import type { ServiceContext } from "../src/service/context.js";
import { queueOperation } from "./helpers/operations.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const DEB = "application/vnd.debian.binary-package";

describe.each(DIALECTS)("artifact store on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let dir: string;
  let key: AuditSigningKey;
  let admin = "";
  let operator = "";
  let viewer = "";
  let agent = { id: "", credential: "", publicKey: "" };
  let good: Buffer;
  let other: Buffer;

  const upload = (body: Buffer | string, token = operator, type = DEB) =>
    app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { authorization: `Bearer ${token}`, "content-type": type },
      payload: body,
    });
  const get = (url: string, token: string, headers: Record<string, string> = {}) =>
    app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}`, ...headers } });
  const rows = async () => (await store.db.selectFrom("artifacts").select("sha256").execute()).length;
  const uploads = async () =>
    (
      await store.db
        .selectFrom("audit_events")
        .select("id")
        .where("action", "=", "artifact.uploaded")
        .execute()
    ).length;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    dir = mkdtempSync(join(tmpdir(), "autopatch-artifacts-"));
    key = loadSigningKey(join(dir, "key.pem"), { create: true });
    admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    operator = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "op", role: "operator" })).token;
    viewer = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "view", role: "viewer" })).token;
    app = await buildApp(ctx, { signingKey: key });
    good = readFileSync(await buildDeb({ name: "fleet-service", version: "1:1.1.0-1", arch: "amd64" }, dir));
    other = readFileSync(await buildDeb({ name: "fleet-service", version: "1.0.0-1" }, dir));
    const t = await app.inject({
      method: "POST",
      url: "/api/v1/agent-tokens",
      headers: { authorization: `Bearer ${admin}` },
      payload: {},
    });
    const enrolled = await app.inject({
      method: "POST",
      url: "/api/v1/agent/enroll",
      headers: { authorization: `Bearer ${(t.json() as { token: string }).token}` },
      payload: { name: "host-1" },
    });
    const e = enrolled.json() as { assetId: string; credential: string; serverPublicKey: string };
    agent = { id: e.assetId, credential: e.credential, publicKey: e.serverPublicKey };
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores a real .deb by its sha256, reads its identity from its control file and signs it", async () => {
    const r = await upload(good);
    expect(r.statusCode, r.body).toBe(201);
    const meta = r.json() as ArtifactMeta;
    const sha256 = createHash("sha256").update(good).digest("hex");
    expect(meta).toMatchObject({
      sha256,
      package: "fleet-service",
      version: "1:1.1.0-1",
      arch: "amd64",
      size: good.length,
      fileName: "fleet-service_1.1.0-1_amd64.deb",
      keyId: key.keyId,
      createdBy: "user:op",
    });
    // Anyone holding the public key the agent pinned at enrollment checks it with node:crypto alone.
    expect(agent.publicKey).toBe(key.publicKeyPem);
    const pinned = createPublicKey(agent.publicKey);
    expect(verify(null, Buffer.from(sha256, "utf8"), pinned, Buffer.from(meta.signature, "base64"))).toBe(
      true,
    );
    expect(verifyArtifactDigest(pinned, sha256, meta.signature)).toBe(true);
    expect(verifyArtifactDigest(pinned, "0".repeat(64), meta.signature)).toBe(false);

    // The same bytes again: the same artifact, nothing new stored or audited.
    const again = await upload(good, admin, "application/octet-stream");
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(meta);
    expect(await rows()).toBe(1);
    expect(await uploads()).toBe(1);

    const list = await get("/api/v1/artifacts?package=fleet-service", viewer);
    expect(list.json()).toEqual({ items: [meta], next: null });
    expect((await get(`/api/v1/artifacts/${sha256}/meta`, viewer)).json()).toEqual(meta);
    const bytes = await get(`/api/v1/artifacts/${sha256}`, viewer);
    expect(bytes.statusCode).toBe(200);
    expect(bytes.headers["content-type"]).toBe(DEB);
    expect(bytes.headers["x-autopatch-artifact-signature"]).toBe(meta.signature);
    expect(bytes.rawPayload.equals(good)).toBe(true);
  });

  it.each([
    ["random bytes", () => Buffer.from("definitely not a debian package\n"), "artifact.not-a-deb"],
    [
      "an ar archive that is no .deb",
      () => Buffer.from("!<arch>\nhello/          0           0     0     644     5         `\nhello\n"),
      "artifact.not-a-deb",
    ],
    ["a .deb cut short", () => good.subarray(0, Math.floor(good.length * 0.8)), "artifact.not-a-deb"],
  ])("refuses %s with a 400 and stores nothing", async (_name, bytes, reason) => {
    const before = { rows: await rows(), audit: await uploads() };
    const r = await upload(bytes());
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "validation", reason, where: "/body" } });
    expect((r.json() as { error: { message: string } }).error.message).toMatch(/not a valid \.deb/);
    expect({ rows: await rows(), audit: await uploads() }).toEqual(before);
  });

  it("refuses uploads from viewers, of other media types, and keeps a body limit for package files", async () => {
    expect((await upload(other, viewer)).statusCode).toBe(403);
    expect((await upload(other, agent.credential)).statusCode).toBe(403);
    const json = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { authorization: `Bearer ${operator}` },
      payload: { content: "x" },
    });
    expect(json.statusCode).toBe(415);
    expect((await upload("text", operator, "text/plain")).statusCode).toBe(415);
    expect(BODY_LIMITS["POST /api/v1/artifacts"]).toBe(256 * 1024 * 1024);
    const unknown = await get(`/api/v1/artifacts/${"a".repeat(64)}/meta`, viewer);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { reason: "artifact.not-found" } });
  });

  it("lets an agent download only what its own asset's operations name", async () => {
    const meta = (await upload(other)).json() as ArtifactMeta;
    const url = `/api/v1/artifacts/${meta.sha256}`;
    const headers = { [AGENT_PROTOCOL_HEADER]: "2" };
    const refused = await get(url, agent.credential, headers);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: { reason: "artifact.not-yours" } });
    await queueOperation(ctx, {
      changeId: `chg-art-${dialect}`,
      asset: { id: agent.id, name: "host-1" },
      payload: {
        artifact: {
          sha256: meta.sha256,
          fileName: meta.fileName,
          package: meta.package,
          version: meta.version,
          arch: meta.arch,
          size: meta.size,
          signature: meta.signature,
        },
      },
    });
    const allowed = await get(url, agent.credential, headers);
    expect(allowed.statusCode).toBe(200);
    expect(allowed.rawPayload.equals(other)).toBe(true);
    expect((await get(`${url}/meta`, agent.credential, headers)).statusCode).toBe(200);
    expect((await get(url, agent.credential, { [AGENT_PROTOCOL_HEADER]: "1" })).statusCode).toBe(400);
  });

  it("stores nothing without a signing key, and enrollment then carries no key to pin", async () => {
    const keyless = await buildApp(ctx);
    try {
      const r = await keyless.inject({
        method: "POST",
        url: "/api/v1/artifacts",
        headers: { authorization: `Bearer ${operator}`, "content-type": DEB },
        payload: good,
      });
      expect(r.statusCode).toBe(422);
      expect(r.json()).toMatchObject({ error: { reason: "artifact.signing-unavailable" } });
      const t = await keyless.inject({
        method: "POST",
        url: "/api/v1/agent-tokens",
        headers: { authorization: `Bearer ${admin}` },
        payload: {},
      });
      const enrolled = await keyless.inject({
        method: "POST",
        url: "/api/v1/agent/enroll",
        headers: { authorization: `Bearer ${(t.json() as { token: string }).token}` },
        payload: { name: "host-keyless" },
      });
      expect(enrolled.statusCode).toBe(200);
      expect(enrolled.json()).not.toHaveProperty("serverPublicKey");
    } finally {
      await keyless.close();
    }
  });
});
