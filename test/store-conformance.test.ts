import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit, verifyAuditChain } from "../src/audit/log.js";
import { enrollAgent } from "../src/auth/enrollment.js";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
import { authenticate, bootstrapAdminToken, createApiToken, revokeApiToken } from "../src/auth/tokens.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { markStaleAssets, recordAgentInventory, recordHeartbeat } from "../src/inventory/agents.js";
import { createAsset, deleteAsset, getAsset, listAssets, updateAsset } from "../src/inventory/assets.js";
import { importInventory } from "../src/inventory/import.js";
import { allowReenrollment } from "../src/inventory/reenrollment.js";
import type { ServiceContext } from "../src/service/context.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import { migrateToLatest } from "../src/store/store.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const pkg = (name: string, version: string, arch = "amd64"): PackageRecord => ({
  ecosystem: "Debian:12",
  name,
  version,
  arch,
  sourceName: name,
  sourceVersion: version,
  purl: `pkg:deb/debian/${name}@${version}?arch=${arch}`,
});

// One suite, every dialect: the service layer must behave the same on SQLite and PostgreSQL.
describe.each(DIALECTS)("store conformance on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let clock = new Date("2026-11-20T10:00:00Z");

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
  });
  afterAll(async () => store?.dispose());

  it("migrations are idempotent", async () => {
    const again = await migrateToLatest(store);
    expect(again.applied).toEqual([]);
    expect(again.current).toBe(Object.keys(MIGRATIONS).at(-1));
  });

  it("refuses a store migrated by a newer autopatch", async () => {
    await sql`insert into kysely_migration (name, timestamp) values ('9999-future', '2030-01-01')`.execute(
      store.db,
    );
    await expect(migrateToLatest(store)).rejects.toMatchObject({ code: "conflict" });
    await sql`delete from kysely_migration where name = '9999-future'`.execute(store.db);
  });

  it("creates, lists by selector, updates and deletes assets, each audited", async () => {
    await createAsset(ctx, SYSTEM_ACTOR, "web-1", {
      environment: "prod",
      group: "web",
      region: "eu",
      labels: { tier: "front" },
    });
    await createAsset(ctx, SYSTEM_ACTOR, "db-1", {
      environment: "prod",
      group: "db",
      region: "us",
      criticality: 5,
    });
    await createAsset(ctx, SYSTEM_ACTOR, "web-stg", { environment: "staging", group: "web", region: "eu" });
    await expect(createAsset(ctx, SYSTEM_ACTOR, "web-1", {})).rejects.toMatchObject({ code: "conflict" });

    const prodWeb = await listAssets(ctx, { selector: "env=prod,group in (web,api)" });
    expect(prodWeb.map((a) => a.name)).toEqual(["web-1"]);
    expect((await listAssets(ctx, { selector: "region!=eu" })).map((a) => a.name)).toEqual(["db-1"]);
    await expect(listAssets(ctx, { selector: "group in (web" })).rejects.toMatchObject({
      code: "validation",
    });

    const updated = await updateAsset(ctx, SYSTEM_ACTOR, "web-1", {
      owner: "team-web",
      labels: { set: { canary: "yes" }, remove: ["tier"] },
    });
    expect(updated.labels).toEqual({ canary: "yes" });
    expect(updated.owner).toBe("team-web");
    await expect(
      updateAsset(ctx, SYSTEM_ACTOR, "web-1", { labels: { set: { group: "x" } } }),
    ).rejects.toMatchObject({
      code: "validation",
    });
    await deleteAsset(ctx, SYSTEM_ACTOR, "web-stg");
    await expect(getAsset(ctx, "web-stg")).rejects.toMatchObject({ code: "not_found" });

    const actions = await store.db.selectFrom("audit_events").select("action").orderBy("seq").execute();
    expect(actions.map((a) => a.action)).toEqual([
      "asset.created",
      "asset.created",
      "asset.created",
      "asset.updated",
      "asset.deleted",
    ]);
  });

  it("a report replaces the package set atomically and records what changed", async () => {
    const first = await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "web-1",
      format: "dpkg",
      content:
        "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u1\nArchitecture: amd64\n\nPackage: curl\nStatus: install ok installed\nVersion: 7.88.1-10+deb12u4\nArchitecture: amd64\n",
      ecosystem: "Debian:12",
    });
    expect(first).toMatchObject({ total: 2, added: 2, removed: 0, changed: 0 });
    const second = await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "web-1",
      format: "dpkg",
      content:
        "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\nPackage: sudo\nStatus: install ok installed\nVersion: 1.9.13p3-1+deb12u1\nArchitecture: amd64\n",
      ecosystem: "Debian:12",
    });
    expect(second).toMatchObject({ total: 2, added: 1, removed: 1, changed: 1 });
    const asset = await getAsset(ctx, "web-1");
    expect(asset.packages.map((p) => `${p.name}=${p.version}`)).toEqual([
      "openssl=3.0.11-1~deb12u2",
      "sudo=1.9.13p3-1+deb12u1",
    ]);
    const event = await store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "inventory.reported")
      .orderBy("seq", "desc")
      .executeTakeFirstOrThrow();
    const data = JSON.parse(event.data) as {
      changes: Array<{ name: string; from: string | null; to: string | null }>;
    };
    expect(data.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "openssl", from: "3.0.11-1~deb12u1", to: "3.0.11-1~deb12u2" }),
        expect.objectContaining({ name: "curl", from: "7.88.1-10+deb12u4", to: null }),
        expect.objectContaining({ name: "sudo", from: null, to: "1.9.13p3-1+deb12u1" }),
      ]),
    );
  });

  it("a bad import changes nothing (invariant 7)", async () => {
    const before = await getAsset(ctx, "web-1");
    const eventsBefore = (await verifyAuditChain(store.db)).checked;
    await expect(
      importInventory(ctx, SYSTEM_ACTOR, {
        asset: "web-1",
        format: "dpkg",
        content: "Package: a\nStatus: install ok installed\nno colon here\n",
      }),
    ).rejects.toMatchObject({ code: "validation", where: "<input>:3" });
    await expect(
      importInventory(ctx, SYSTEM_ACTOR, { asset: "new-asset", format: "cyclonedx", content: "{ not json" }),
    ).rejects.toMatchObject({
      code: "validation",
    });
    expect(await getAsset(ctx, "web-1")).toEqual(before);
    await expect(getAsset(ctx, "new-asset")).rejects.toMatchObject({ code: "not_found" });
    expect((await verifyAuditChain(store.db)).checked).toBe(eventsBefore);
  });

  it("a state change and its audit event commit or roll back together (invariant 4)", async () => {
    const before = await verifyAuditChain(store.db);
    await expect(
      store.db.transaction().execute(async (trx) => {
        await trx.updateTable("assets").set({ owner: "nobody" }).where("name", "=", "db-1").execute();
        await appendAudit(trx, {
          actor: "system",
          action: "asset.updated",
          targetType: "asset",
          targetId: "x",
        });
        throw new Error("crash after the audit append");
      }),
    ).rejects.toThrow("crash");
    expect((await getAsset(ctx, "db-1")).owner).toBe("");
    const after = await verifyAuditChain(store.db);
    expect(after).toMatchObject({ ok: true, checked: before.checked });
  });

  it("concurrent writers never fork the audit chain", async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        updateAsset(ctx, SYSTEM_ACTOR, "db-1", { labels: { set: { [`k${i}`]: "v" } } }),
      ),
    );
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(true);
  });

  it("concurrent writes commit together yet fail alone, each with its audit event", async () => {
    const before = (await verifyAuditChain(store.db)).checked;
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        store.write(async (trx) => {
          await trx
            .updateTable("assets")
            .set({ owner: `writer-${i}` })
            .where("name", "=", "web-1")
            .execute();
          await appendAudit(trx, {
            actor: "system",
            action: "test.write",
            targetType: "asset",
            targetId: String(i),
          });
          if (i === 5) throw new Error("write 5 fails");
          return i;
        }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect(
      results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<number>).value),
    ).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    const events = await store.db
      .selectFrom("audit_events")
      .select("target_id")
      .where("action", "=", "test.write")
      .execute();
    expect(events.map((e) => e.target_id).sort()).toEqual([
      "0",
      "1",
      "10",
      "11",
      "2",
      "3",
      "4",
      "6",
      "7",
      "8",
      "9",
    ]);
    // The failed write's change is rolled back whatever order the writes committed in.
    expect((await getAsset(ctx, "web-1")).owner).not.toBe("writer-5");
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: before + 11 });
  });

  it("tokens: hashed at rest, authenticate, revoke", async () => {
    const boot = await bootstrapAdminToken(ctx, "a-given-admin-token-123");
    expect(boot?.token).toBe("a-given-admin-token-123");
    expect(await bootstrapAdminToken(ctx)).toBeNull();
    const created = await createApiToken(ctx, SYSTEM_ACTOR, { name: "ci", role: "operator" });
    const rows = await store.db.selectFrom("api_tokens").select(["token_hash"]).execute();
    for (const row of rows) expect(row.token_hash).not.toContain(created.token);
    expect(JSON.stringify(await store.db.selectFrom("api_tokens").selectAll().execute())).not.toContain(
      created.token,
    );
    expect(await authenticate(ctx, created.token)).toMatchObject({
      kind: "user",
      role: "operator",
      name: "ci",
    });
    await revokeApiToken(ctx, SYSTEM_ACTOR, created.id);
    await expect(authenticate(ctx, created.token)).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(createApiToken(ctx, SYSTEM_ACTOR, { name: "x", role: "root" })).rejects.toMatchObject({
      code: "validation",
    });
  });

  it("enrollment: one-time tokens enroll once; agents act for their own asset; stale marking", async () => {
    const once = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
    const enrolled = await enrollAgent(ctx, once.token, {
      name: "host-a",
      environment: "prod",
      group: "web",
      region: "eu",
    });
    await expect(enrollAgent(ctx, once.token, { name: "host-b" })).rejects.toMatchObject({
      code: "unauthenticated",
    });
    const agent = await authenticate(ctx, enrolled.credential);
    expect(agent).toMatchObject({ kind: "agent", assetId: enrolled.assetId });

    const reusable = await createEnrollmentToken(ctx, SYSTEM_ACTOR, { reusable: true });
    const b = await enrollAgent(ctx, reusable.token, { name: "host-b", environment: "staging" });
    await enrollAgent(ctx, reusable.token, { name: "host-c" });
    const agentB = await authenticate(ctx, b.credential);

    // Each agent writes only its own asset's inventory.
    await recordAgentInventory(ctx, agent, [pkg("openssl", "3.0.11-1~deb12u2")]);
    await recordAgentInventory(ctx, agentB, [pkg("bash", "5.2.15-2+b2")]);
    expect((await getAsset(ctx, "host-a")).packages.map((p) => p.name)).toEqual(["openssl"]);
    expect((await getAsset(ctx, "host-b")).packages.map((p) => p.name)).toEqual(["bash"]);
    await expect(recordAgentInventory(ctx, SYSTEM_ACTOR, [])).rejects.toMatchObject({ code: "forbidden" });

    // Re-enrolling an existing asset needs an admin's allowance; placement applies on first
    // enrollment only, and re-enrolling revokes the old credential.
    await expect(enrollAgent(ctx, reusable.token, { name: "host-b" })).rejects.toMatchObject({
      reason: "enroll.asset-exists",
    });
    await allowReenrollment(ctx, SYSTEM_ACTOR, "host-b");
    const again = await enrollAgent(ctx, reusable.token, { name: "host-b", environment: "prod" });
    expect((await getAsset(ctx, "host-b")).environment).toBe("staging");
    await expect(authenticate(ctx, b.credential)).rejects.toMatchObject({ code: "unauthenticated" });
    const agentB2 = await authenticate(ctx, again.credential);

    // Missed heartbeats mark an asset stale once; a heartbeat makes it active again.
    clock = new Date(clock.getTime() + ctx.config.heartbeatIntervalMs * 2);
    await recordHeartbeat(ctx, agent);
    clock = new Date(clock.getTime() + ctx.config.heartbeatIntervalMs * (ctx.config.staleAfterMissed + 1));
    await recordHeartbeat(ctx, agentB2);
    const marked = await markStaleAssets(ctx, SYSTEM_ACTOR);
    expect(marked.sort()).toEqual(["host-a", "host-c"]);
    expect(await markStaleAssets(ctx, SYSTEM_ACTOR)).toEqual([]);
    expect((await getAsset(ctx, "host-a")).agentStatus).toBe("stale");
    await recordHeartbeat(ctx, agent);
    expect((await getAsset(ctx, "host-a")).agentStatus).toBe("active");
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});
