import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGENT_PROTOCOL_HEADER,
  AGENT_PROTOCOL_VERSION,
  POLL_HEARTBEAT_HEADER,
} from "../src/agent/protocol.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { type AuditSigningKey, loadSigningKey } from "../src/audit/signing-key.js";
import { bootstrapAdminToken } from "../src/auth/tokens.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { canonicalPackageSet, packageSetDigest } from "../src/domain/package-set.js";
import { agentExecutor } from "../src/executors/agent/agent-executor.js";
import { STORE_POLL_MS } from "../src/executors/agent/leases.js";
import { executorFor } from "../src/executors/registry.js";
import type { OperationResult } from "../src/rollout/operation.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { openStore } from "../src/store/store.js";
import { queueOperation, rolloutIdOf } from "./helpers/operations.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const HEARTBEAT_MS = 1000;
const V = { [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION) };

function result(ok: boolean, extra: Partial<OperationResult> = {}): OperationResult {
  return {
    ok,
    installedVersion: ok ? "1.1.0-1" : "1.0.0-1",
    checks: [{ name: "service", ok, tries: 1, detail: ok ? "HTTP 200" : "HTTP 500", durationMs: 4 }],
    replayed: false,
    startedAt: "2026-05-04T10:00:00.000Z",
    finishedAt: "2026-05-04T10:00:02.000Z",
    ...(ok ? {} : { error: "health check service failed: HTTP 500" }),
    ...extra,
  };
}

describe.each(DIALECTS)("agent operations on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let keyDir: string;
  let key: AuditSigningKey;
  let clock = new Date("2026-05-04T10:00:00.000Z");
  let admin = "";
  const agents: Record<string, { id: string; credential: string }> = {};
  let change = 0;
  const nextChange = () => `chg-${dialect}-${++change}`;

  const call = (
    method: "GET" | "POST" | "PUT",
    url: string,
    token: string,
    payload?: unknown,
    headers: Record<string, string> = V,
  ) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const poll = (agent: string, waitMs = 0) =>
    call("GET", `/api/v1/agent/operations/next?waitMs=${waitMs}`, agents[agent]?.credential ?? "");
  const progress = (agent: string, op: string, step: string) =>
    call("POST", `/api/v1/agent/operations/${op}/progress`, agents[agent]?.credential ?? "", { step });
  const report = (agent: string, op: string, body: OperationResult) =>
    call("POST", `/api/v1/agent/operations/${op}/result`, agents[agent]?.credential ?? "", body);
  const heartbeat = (agent: string) =>
    call("POST", "/api/v1/agent/heartbeat", agents[agent]?.credential ?? "", {});
  const asset = (name: string) => ({ id: agents[name]?.id ?? "", name });
  const opRow = (id: string) =>
    store.db.selectFrom("operations").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const auditCount = async () =>
    Number(
      (
        await store.db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock, { heartbeatIntervalMs: HEARTBEAT_MS });
    keyDir = mkdtempSync(join(tmpdir(), "autopatch-key-"));
    key = loadSigningKey(join(keyDir, "key.pem"), { create: true });
    admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    app = await buildApp(ctx, { signingKey: key });
    const enroll = await call("POST", "/api/v1/agent-tokens", admin, { reusable: true });
    const enrollToken = (enroll.json() as { token: string }).token;
    for (const name of ["host-a", "host-b"]) {
      const r = await call("POST", "/api/v1/agent/enroll", enrollToken, { name });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json() as { assetId: string; credential: string; serverPublicKey?: string };
      expect(body.serverPublicKey).toBe(key.publicKeyPem);
      agents[name] = { id: body.assetId, credential: body.credential };
    }
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("registers the agent executor", () => {
    expect(executorFor("agent")).toBe(agentExecutor);
  });

  it("leases an operation to one of two long-polls of its asset, woken at once by the dispatch", async () => {
    const timed = () => {
      const begun = Date.now();
      return poll("host-a", 3000).then((r) => ({ r, ms: Date.now() - begun }));
    };
    const polls = [timed(), timed()];
    await new Promise((r) => setTimeout(r, 200));
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    await agentExecutor.dispatch(ctx, spec);
    await agentExecutor.dispatch(ctx, spec); // a repeated dispatch changes nothing
    const answers = await Promise.all(polls);
    expect(answers.map((a) => a.r.statusCode).sort()).toEqual([200, 204]);
    const leased = answers.find((a) => a.r.statusCode === 200);
    const body = leased?.r.json() as {
      id: string;
      key: string;
      action: string;
      payload: { package: string };
    };
    expect(body).toMatchObject({
      id: spec.id,
      key: spec.key,
      action: "patch",
      payload: { package: "fleet-service" },
    });
    // Woken by the dispatch, well before the store poll or the end of the wait.
    expect(leased?.ms).toBeLessThan(200 + STORE_POLL_MS / 2);
    const row = await opRow(spec.id);
    expect(row.state).toBe("leased");
    const leases = await store.db
      .selectFrom("audit_events")
      .select("data")
      .where("action", "=", "rollout.operation.leased")
      .where("target_id", "=", spec.rolloutId)
      .execute();
    expect(leases).toHaveLength(1);
    expect(await agentExecutor.observe(ctx, spec)).toEqual({ status: "running", step: null });

    // Asking again (a restarted agent) gets the same operation back; another asset gets nothing.
    const again = await poll("host-a");
    expect(again.statusCode).toBe(200);
    expect((again.json() as { id: string }).id).toBe(spec.id);
    expect((await poll("host-b")).statusCode).toBe(204);
    await report("host-a", spec.id, result(true));
  });

  it("refuses another asset's operation and people's tokens on agent routes", async () => {
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    expect((await poll("host-a")).statusCode).toBe(200);
    const before = await opRow(spec.id);
    const count = await auditCount();
    for (const r of [
      await progress("host-b", spec.id, "applying"),
      await report("host-b", spec.id, result(true)),
    ]) {
      expect(r.statusCode, r.body).toBe(403);
      expect(r.json()).toMatchObject({
        error: { code: "forbidden", reason: "agent.operation-not-yours", where: "/params/id" },
      });
    }
    const person = await call("GET", "/api/v1/agent/operations/next?waitMs=0", admin);
    expect(person.statusCode).toBe(403);
    const unknown = await progress("host-a", "op-unknown", "applying");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { reason: "agent.operation-not-found" } });
    expect(await opRow(spec.id)).toEqual(before);
    expect(await auditCount()).toBe(count);
    await report("host-a", spec.id, result(true));
  });

  it("moves the asset with each step reported and stores the first result only", async () => {
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    // A result or progress before the lease is refused: the host has not taken it.
    const early = await report("host-a", spec.id, result(true));
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ error: { reason: "agent.operation-not-leased" } });
    expect((await poll("host-a")).statusCode).toBe(200);
    const assetRow = () =>
      store.db
        .selectFrom("rollout_assets")
        .selectAll()
        .where("rollout_id", "=", spec.rolloutId)
        .where("asset_id", "=", spec.assetId)
        .executeTakeFirstOrThrow();

    const wrongStep = await progress("host-a", spec.id, "reverting");
    expect(wrongStep.statusCode).toBe(400);
    expect(wrongStep.json()).toMatchObject({ error: { reason: "agent.invalid-step", where: "/body/step" } });

    clock = new Date(clock.getTime() + 1000);
    const applying = await progress("host-a", spec.id, "applying");
    expect(applying.statusCode, applying.body).toBe(200);
    expect(applying.json()).toMatchObject({ state: "leased", step: "applying", accepted: true });
    expect(await assetRow()).toMatchObject({ state: "applying", started_at: clock.toISOString() });
    const count = await auditCount();
    expect((await progress("host-a", spec.id, "applying")).json()).toMatchObject({ accepted: false });
    expect(await auditCount()).toBe(count);
    expect(await agentExecutor.observe(ctx, spec)).toEqual({ status: "running", step: "applying" });
    await progress("host-a", spec.id, "verifying");
    expect((await assetRow()).state).toBe("verifying");
    const moves = await store.db
      .selectFrom("audit_events")
      .select(["action", "data"])
      .where("target_id", "=", spec.rolloutId)
      .where("action", "like", "rollout.asset.%")
      .orderBy("seq")
      .execute();
    expect(moves.map((m) => [m.action, (JSON.parse(m.data) as { from: string }).from])).toEqual([
      ["rollout.asset.applying", "snapshotting"],
      ["rollout.asset.verifying", "applying"],
    ]);

    const first = await report("host-a", spec.id, result(true));
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({
      state: "succeeded",
      accepted: true,
      result: { installedVersion: "1.1.0-1" },
    });
    const stored = await opRow(spec.id);
    const afterFirst = await auditCount();
    // A retried report (even one that says otherwise) gets the stored outcome and changes nothing.
    const second = await report("host-a", spec.id, result(false));
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ state: "succeeded", accepted: false, result: { ok: true } });
    expect(await opRow(spec.id)).toEqual(stored);
    expect(await auditCount()).toBe(afterFirst);
    expect(await progress("host-a", spec.id, "verifying")).toMatchObject({ statusCode: 200 });
    const outcome = await agentExecutor.observe(ctx, spec);
    expect(outcome).toMatchObject({ status: "succeeded", result: { ok: true, installedVersion: "1.1.0-1" } });
    // The asset's transition to done is the engine's: these routes only record the operation.
    expect((await assetRow()).state).toBe("verifying");

    // A failed result is stored as failed, with the host's error.
    const other = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-b") });
    expect((await poll("host-b")).statusCode).toBe(200);
    expect((await report("host-b", other.id, result(false))).json()).toMatchObject({
      state: "failed",
      accepted: true,
    });
    expect(await agentExecutor.observe(ctx, other)).toMatchObject({
      status: "failed",
      error: "health check service failed: HTTP 500",
    });
  });

  it("records an inventory delta carried by the result before the result, and refuses one with nothing recorded", async () => {
    const pkg = (version: string): PackageRecord => ({ ecosystem: "Debian:12", name: "demo", version });
    const digestOf = (packages: PackageRecord[]) => packageSetDigest(canonicalPackageSet(packages).values());
    const put = await call("PUT", "/api/v1/agent/inventory", agents["host-a"]?.credential ?? "", {
      packages: [pkg("1.0.0-1")],
    });
    expect(put.statusCode, put.body).toBe(200);
    const base = (put.json() as { digest: string }).digest;
    expect(base).toBe(digestOf([pkg("1.0.0-1")]));
    const delta = {
      base,
      digest: digestOf([pkg("1.1.0-1")]),
      added: [pkg("1.1.0-1")],
      removed: [{ ecosystem: "Debian:12", name: "demo", version: "1.0.0-1" }],
    };
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    const leased = await poll("host-a");
    expect(leased.json()).toMatchObject({ id: spec.id, inventoryInResult: true });

    // Refused for its operation (another asset's) or for its base: neither the inventory nor the result.
    const other = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-b") });
    expect((await poll("host-b")).statusCode).toBe(200);
    const before = await auditCount();
    const lastSeq = Number(
      (
        await store.db
          .selectFrom("audit_events")
          .select((eb) => eb.fn.max("seq").as("seq"))
          .executeTakeFirstOrThrow()
      ).seq,
    );
    const notYours = await report("host-a", other.id, {
      ...result(true),
      inventory: delta,
    } as OperationResult);
    expect(notYours.statusCode).toBe(403);
    const wrongBase = await report("host-a", spec.id, {
      ...result(true),
      inventory: { ...delta, base: "sha256:0000" },
    } as OperationResult);
    expect(wrongBase.statusCode).toBe(409);
    expect(wrongBase.json()).toMatchObject({
      error: { reason: "inventory.delta-base-mismatch", where: "/body/inventory/base" },
    });
    expect(await auditCount()).toBe(before);
    expect((await opRow(spec.id)).state).toBe("leased");

    const taken = await report("host-a", spec.id, { ...result(true), inventory: delta } as OperationResult);
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({
      state: "succeeded",
      accepted: true,
      inventory: { digest: delta.digest },
    });
    const stored = await opRow(spec.id);
    expect(JSON.parse(stored.result ?? "{}")).not.toHaveProperty("inventory");
    const events = await store.db
      .selectFrom("audit_events")
      .select(["action"])
      .where("seq", ">", lastSeq)
      .orderBy("seq")
      .execute();
    expect(events.map((e) => e.action)).toEqual(["inventory.reported", "rollout.operation.succeeded"]);
    const packages = await store.db
      .selectFrom("installed_packages")
      .select(["name", "version"])
      .where("asset_id", "=", agents["host-a"]?.id ?? "")
      .execute();
    expect(packages).toEqual([{ name: "demo", version: "1.1.0-1" }]);
    expect((await report("host-b", other.id, result(true))).statusCode).toBe(200);
  });

  it("serves an agent that predates the inventory in the result and the poll heartbeat as before", async () => {
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-b") });
    expect((await heartbeat("host-b")).statusCode).toBe(200);
    expect((await poll("host-b")).statusCode).toBe(200);
    const put = await call("PUT", "/api/v1/agent/inventory", agents["host-b"]?.credential ?? "", {
      packages: [{ ecosystem: "Debian:12", name: "demo", version: "1.1.0-1" }],
    });
    expect(put.statusCode, put.body).toBe(200);
    const answer = await report("host-b", spec.id, result(true));
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json()).toMatchObject({ state: "succeeded", accepted: true });
    expect(answer.json()).not.toHaveProperty("inventory");
  });

  it("counts a poll's answer as the agent's heartbeat, recorded at most once a quarter interval", async () => {
    const seen = async () =>
      (
        await store.db
          .selectFrom("assets")
          .select(["last_seen_at", "agent_status"])
          .where("id", "=", agents["host-a"]?.id ?? "")
          .executeTakeFirstOrThrow()
      ).last_seen_at;
    clock = new Date(clock.getTime() + 10 * HEARTBEAT_MS);
    const first = await poll("host-a");
    expect(first.statusCode).toBe(204);
    expect(first.headers[POLL_HEARTBEAT_HEADER]).toBe("1");
    expect(await seen()).toBe(clock.toISOString());
    const recordedAt = clock.toISOString();
    clock = new Date(clock.getTime() + 0.2 * HEARTBEAT_MS);
    expect((await poll("host-a")).headers[POLL_HEARTBEAT_HEADER]).toBe("1");
    expect(await seen()).toBe(recordedAt);
    clock = new Date(clock.getTime() + 0.1 * HEARTBEAT_MS);
    await poll("host-a");
    expect(await seen()).toBe(clock.toISOString());

    // A stale asset is active again after a poll, with its audit event, as after a heartbeat.
    await store.db
      .updateTable("assets")
      .set({ agent_status: "stale" })
      .where("id", "=", agents["host-a"]?.id ?? "")
      .execute();
    clock = new Date(clock.getTime() + HEARTBEAT_MS);
    await poll("host-a");
    const active = await store.db
      .selectFrom("audit_events")
      .select("action")
      .where("target_id", "=", agents["host-a"]?.id ?? "")
      .where("action", "=", "asset.agent-active")
      .execute();
    expect(active).toHaveLength(1);
    expect(
      (
        await store.db
          .selectFrom("assets")
          .select("agent_status")
          .where("id", "=", agents["host-a"]?.id ?? "")
          .executeTakeFirstOrThrow()
      ).agent_status,
    ).toBe("active");

    // A poll that leases an operation records it in the lease's own write.
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    clock = new Date(clock.getTime() + HEARTBEAT_MS);
    const leased = await poll("host-a");
    expect(leased.statusCode).toBe(200);
    expect(leased.headers[POLL_HEARTBEAT_HEADER]).toBe("1");
    expect(await seen()).toBe(clock.toISOString());
    expect((await report("host-a", spec.id, result(true))).statusCode).toBe(200);
  });

  it("records no sign of life for a poll whose agent hung up before the answer", async () => {
    const seen = async () =>
      (
        await store.db
          .selectFrom("assets")
          .select("last_seen_at")
          .where("id", "=", agents["host-b"]?.id ?? "")
          .executeTakeFirstOrThrow()
      ).last_seen_at;
    clock = new Date(clock.getTime() + 10 * HEARTBEAT_MS);
    const before = await seen();
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    const hangUp = new AbortController();
    const polling = fetch(`${url}/api/v1/agent/operations/next?waitMs=10000`, {
      headers: { authorization: `Bearer ${agents["host-b"]?.credential ?? ""}`, ...V },
      signal: hangUp.signal,
    }).catch(() => undefined);
    await sleep(200);
    hangUp.abort();
    await polling;
    await sleep(300);
    expect(await seen()).toBe(before);
    // Still answered polls count.
    expect((await poll("host-b")).headers[POLL_HEARTBEAT_HEADER]).toBe("1");
    expect(await seen()).toBe(clock.toISOString());
  });

  it("reports lost when the agent stops heartbeating for two intervals, or its lease runs out", async () => {
    const spec = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-b") });
    expect((await heartbeat("host-b")).statusCode).toBe(200);
    expect((await poll("host-b")).statusCode).toBe(200);
    clock = new Date(clock.getTime() + 1.5 * HEARTBEAT_MS);
    expect(await agentExecutor.observe(ctx, spec)).toEqual({ status: "running", step: null });
    clock = new Date(clock.getTime() + 0.6 * HEARTBEAT_MS);
    const lost = await agentExecutor.observe(ctx, spec);
    expect(lost).toMatchObject({ status: "lost" });
    expect(lost.status === "lost" && lost.error).toMatch(/heartbeat/);
    // Observing reads only: the engine records the loss.
    expect((await opRow(spec.id)).state).toBe("leased");
    // A heartbeat again: alive. Then a lease that runs out while it keeps heartbeating: lost too.
    await heartbeat("host-b");
    expect((await agentExecutor.observe(ctx, spec)).status).toBe("running");
    const row = await opRow(spec.id);
    const expires = new Date(row.lease_expires_at ?? "");
    clock = new Date(expires.getTime() + 1);
    await heartbeat("host-b");
    const expired = await agentExecutor.observe(ctx, spec);
    expect(expired).toMatchObject({ status: "lost" });
    expect(expired.status === "lost" && expired.error).toMatch(/lease expired/);
    await report("host-b", spec.id, result(true));
  });

  it("withdraws a queued operation and leaves a leased one to run to its end", async () => {
    const queued = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    await agentExecutor.cancel(ctx, queued);
    await agentExecutor.cancel(ctx, queued);
    expect((await opRow(queued.id)).state).toBe("cancelled");
    expect((await poll("host-a")).statusCode).toBe(204);
    const cancels = await store.db
      .selectFrom("audit_events")
      .select("id")
      .where("action", "=", "rollout.operation.cancelled")
      .where("target_id", "=", queued.rolloutId)
      .execute();
    expect(cancels).toHaveLength(1);

    const leased = await queueOperation(ctx, { changeId: nextChange(), asset: asset("host-a") });
    expect((await poll("host-a")).statusCode).toBe(200);
    await agentExecutor.cancel(ctx, leased);
    expect((await opRow(leased.id)).state).toBe("leased");
    await report("host-a", leased.id, result(true));
  });

  it("holds queued operations of a paused rollout and while the emergency stop is set", async () => {
    const changeId = nextChange();
    const spec = await queueOperation(ctx, { changeId, asset: asset("host-b"), rolloutState: "paused" });
    expect((await poll("host-b")).statusCode).toBe(204);
    await ctx.store.write((trx) =>
      trx.updateTable("rollouts").set({ state: "running" }).where("id", "=", rolloutIdOf(changeId)).execute(),
    );
    await ctx.store.write((trx) =>
      trx
        .insertInto("engine_switches")
        .values({
          name: "stop-all",
          value: "on",
          reason: "test",
          set_by: "admin",
          set_at: clock.toISOString(),
        })
        .execute(),
    );
    expect((await poll("host-b")).statusCode).toBe(204);
    await ctx.store.write((trx) =>
      trx.deleteFrom("engine_switches").where("name", "=", "stop-all").execute(),
    );
    const leased = await poll("host-b");
    expect(leased.statusCode).toBe(200);
    expect((leased.json() as { id: string }).id).toBe(spec.id);
    await report("host-b", spec.id, result(true));
  });

  it("finds an operation another replica queued by polling the store", async () => {
    const other = await openStore(store.url);
    try {
      const replica = contextFor(other, () => clock, { heartbeatIntervalMs: HEARTBEAT_MS });
      const started = Date.now();
      const pending = poll("host-a", 5000);
      await new Promise((r) => setTimeout(r, 100));
      const spec = await queueOperation(replica, { changeId: nextChange(), asset: asset("host-a") });
      await agentExecutor.dispatch(replica, spec);
      const r = await pending;
      expect(r.statusCode).toBe(200);
      expect((r.json() as { id: string }).id).toBe(spec.id);
      expect(Date.now() - started).toBeLessThan(STORE_POLL_MS * 3);
      await report("host-a", spec.id, result(true));
    } finally {
      await other.close();
    }
  });

  it("checks the agent protocol version on agent routes", async () => {
    for (const [version, says] of [
      ["1", "upgrade the agent"],
      ["3", "upgrade the server"],
      ["banana", "upgrade the agent"],
    ] as const) {
      for (const r of [
        await call(
          "POST",
          "/api/v1/agent/heartbeat",
          agents["host-a"]?.credential ?? "",
          {},
          { [AGENT_PROTOCOL_HEADER]: version },
        ),
        await call(
          "GET",
          "/api/v1/agent/operations/next?waitMs=0",
          agents["host-a"]?.credential ?? "",
          undefined,
          {
            [AGENT_PROTOCOL_HEADER]: version,
          },
        ),
      ]) {
        expect(r.statusCode, r.body).toBe(400);
        const error = (r.json() as { error: { reason: string; message: string; where: string } }).error;
        expect(error).toMatchObject({
          reason: "agent.protocol-mismatch",
          where: `/headers/${AGENT_PROTOCOL_HEADER}`,
        });
        expect(error.message).toContain(`the server speaks ${AGENT_PROTOCOL_VERSION}`);
        expect(error.message).toContain(says);
      }
    }
    // Operations exist only since protocol 2: a poll without the header is refused, a heartbeat is not.
    const bare = await call(
      "GET",
      "/api/v1/agent/operations/next?waitMs=0",
      agents["host-a"]?.credential ?? "",
      undefined,
      {},
    );
    expect(bare.statusCode).toBe(400);
    expect(bare.json()).toMatchObject({ error: { reason: "agent.protocol-mismatch" } });
    expect(
      (await call("POST", "/api/v1/agent/heartbeat", agents["host-a"]?.credential ?? "", {}, {})).statusCode,
    ).toBe(200);
    expect(
      (
        await call(
          "GET",
          "/api/v1/agent/operations/next?waitMs=0",
          agents["host-a"]?.credential ?? "",
          undefined,
          { [AGENT_PROTOCOL_HEADER]: "2.1" },
        )
      ).statusCode,
    ).toBe(204);
    const tooLong = await call(
      "GET",
      "/api/v1/agent/operations/next?waitMs=60000",
      agents["host-a"]?.credential ?? "",
    );
    expect(tooLong.statusCode).toBe(400);
  });

  it("ends waiting polls when the server closes, and keeps the audit chain whole", async () => {
    const closing = await buildApp(ctx, { signingKey: key });
    const started = Date.now();
    const waiting = closing.inject({
      method: "GET",
      url: "/api/v1/agent/operations/next?waitMs=20000",
      headers: { authorization: `Bearer ${agents["host-a"]?.credential}`, ...V },
    });
    await new Promise((r) => setTimeout(r, 200));
    await closing.close();
    expect((await waiting).statusCode).toBe(204);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});
