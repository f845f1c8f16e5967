import type { FastifyInstance } from "fastify";
import { Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAudit, verifyAuditChain } from "../src/audit/log.js";
import { setPrincipalDisabled } from "../src/auth/principals.js";
import { hashSecret } from "../src/auth/secrets.js";
import {
  authenticate,
  bootstrapAdminToken,
  createApiToken,
  listApiTokens,
  revokeApiToken,
} from "../src/auth/tokens.js";
import { approveChange } from "../src/changes/approvals.js";
import { readChange } from "../src/changes/queries.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset } from "../src/inventory/assets.js";
import { applyPolicy } from "../src/policy/store.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { MIGRATIONS } from "../src/store/migrations/index.js";
import type { Store } from "../src/store/store.js";
import { installed } from "./helpers/assets.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const change = {
  package: "openssl",
  version: "3.0.15-1~deb12u1",
  justification: "CVE fixes",
  selector: "name=web-1",
};

async function counts(store: Store): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ["api_tokens", "principals", "audit_events", "change_requests", "approvals"] as const) {
    const row = await store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

describe.each(DIALECTS)("principals and separation of duties on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let admin = "";

  const call = (token: string, method: "GET" | "POST" | "DELETE", url: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
    });
  const newToken = async (body: { name: string; role: string; principal?: string }) => {
    const r = await call(admin, "POST", "/api/v1/tokens", body);
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as { id: string; token: string; name: string; principal: string };
  };
  const submitted = async (token: string) => {
    const created = await call(token, "POST", "/api/v1/changes", change);
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as { id: string }).id;
    expect((await call(token, "POST", `/api/v1/changes/${id}/submit`)).statusCode).toBe(200);
    return id;
  };

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    await createAsset(ctx, SYSTEM_ACTOR, "web-1", {});
    // Below the change's version: web-1 is a target.
    await installed(ctx, "web-1", [["openssl", "3.0.11-1~deb12u2"]]);
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("tokens whose names differ only by case or a zero-width space are one person", async () => {
    const ops = await newToken({ name: "alice", role: "operator" });
    expect(ops).toMatchObject({ name: "alice", principal: "alice" });
    const before = await counts(store);
    // Before principals, "Alice" and "ali\u200bce" were other people who could approve alice's changes.
    const upper = await call(admin, "POST", "/api/v1/tokens", { name: "Alice", role: "approver" });
    expect(upper.statusCode, upper.body).toBe(409);
    expect(upper.json()).toMatchObject({ error: { reason: "token.duplicate-name", where: "/body/name" } });
    const hidden = await call(admin, "POST", "/api/v1/tokens", { name: "ali\u200bce", role: "approver" });
    expect(hidden.statusCode, hidden.body).toBe(400);
    expect(hidden.json()).toMatchObject({ error: { reason: "token.invalid-name", where: "/body/name" } });
    expect(hidden.json().error.message).toContain("U+200B");
    expect(await counts(store)).toEqual(before);

    // Her approver token, named otherwise, is still hers.
    const cab = await newToken({ name: "cab", role: "approver", principal: "ALICE" });
    expect(cab.principal).toBe("alice");
    const id = await submitted(ops.token);
    const own = await call(cab.token, "POST", `/api/v1/changes/${id}/approve`);
    expect(own.statusCode, own.body).toBe(403);
    expect(own.json()).toMatchObject({ error: { reason: "approval.separation-of-duties" } });

    const bob = await newToken({ name: "bob", role: "approver" });
    const approved = await call(bob.token, "POST", `/api/v1/changes/${id}/approve`, { reason: "ok" });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({
      state: "scheduled",
      requesterPrincipal: "alice",
      approvals: [{ approver: "bob", principal: "bob" }],
    });
  });

  it.each([
    ["NUL", { name: "mallory\u0000", role: "approver" }, "token.invalid-name", "/name"],
    ["right-to-left override", { name: "\u202eyrollam", role: "approver" }, "token.invalid-name", "/name"],
    ["right-to-left mark", { name: "mallory\u200f", role: "approver" }, "token.invalid-name", "/name"],
    [
      "right-to-left override in the principal",
      { name: "m", role: "approver", principal: "alice\u202e" },
      "principal.invalid-name",
      "/principal",
    ],
    ["reserved principal", { name: "system", role: "admin" }, "principal.invalid-name", "/name"],
  ])("a token named with %s is refused and nothing is stored", async (_what, body, reason, where) => {
    const before = await counts(store);
    const r = await call(admin, "POST", "/api/v1/tokens", body);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "validation", reason, where: `/body${where}` } });
    expect(await counts(store)).toEqual(before);
  });

  it("an admin token named otherwise is another person only when it is another principal", async () => {
    const tokens = (
      (await call(admin, "GET", "/api/v1/tokens")).json() as {
        items: Array<{ name: string; principal: string }>;
      }
    ).items;
    expect(tokens.find((t) => t.name === "bootstrap-admin")?.principal).toBe("admin");
    // Before principals, any admin token not named "bootstrap-admin" could approve the bootstrap admin's change.
    const laptop = await newToken({ name: "laptop", role: "admin", principal: "admin" });
    const id = await submitted(admin);
    const own = await call(laptop.token, "POST", `/api/v1/changes/${id}/approve`);
    expect(own.statusCode, own.body).toBe(403);
    expect(own.json()).toMatchObject({ error: { reason: "approval.separation-of-duties" } });

    const carol = await newToken({ name: "carol", role: "admin" });
    expect(carol.principal).toBe("carol");
    const approved = await call(carol.token, "POST", `/api/v1/changes/${id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ state: "scheduled", requesterPrincipal: "admin" });
  });

  it("one principal's approvals count once, whichever of its tokens gives them", async () => {
    await applyPolicy(ctx, SYSTEM_ACTOR, "name: two\napprovals:\n  required: 2\n");
    const dave = await newToken({ name: "dave", role: "approver" });
    const daveToo = await newToken({ name: "dave-phone", role: "approver", principal: "Dave" });
    const requester = await newToken({ name: "erin", role: "operator" });
    const created = await call(requester.token, "POST", "/api/v1/changes", { ...change, policy: "two" });
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as { id: string }).id;
    expect((await call(requester.token, "POST", `/api/v1/changes/${id}/submit`)).statusCode).toBe(200);
    expect((await call(dave.token, "POST", `/api/v1/changes/${id}/approve`)).statusCode).toBe(200);
    const again = await call(daveToo.token, "POST", `/api/v1/changes/${id}/approve`);
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json()).toMatchObject({ error: { reason: "approval.duplicate" } });
    expect(await readChange(ctx, id)).toMatchObject({ state: "submitted", validApprovals: 1 });
  });

  it("token names are unique per principal among active tokens; a revoked name may be reused", async () => {
    const first = await newToken({ name: "build", role: "viewer", principal: "ci" });
    const other = await newToken({ name: "build", role: "viewer", principal: "cd" });
    expect(other.principal).toBe("cd");
    const clash = await call(admin, "POST", "/api/v1/tokens", {
      name: "BUILD",
      role: "viewer",
      principal: "ci",
    });
    expect(clash.statusCode).toBe(409);
    expect((await call(admin, "DELETE", `/api/v1/tokens/${first.id}`)).statusCode).toBe(204);
    await newToken({ name: "build", role: "operator", principal: "ci" });
    // Two writers creating one name at once: one wins, the other gets the same conflict.
    const race = await Promise.allSettled([
      createApiToken(ctx, SYSTEM_ACTOR, { name: "deploy", role: "viewer", principal: "ci" }),
      createApiToken(ctx, SYSTEM_ACTOR, { name: "deploy", role: "viewer", principal: "ci" }),
    ]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(race.find((r) => r.status === "rejected")).toMatchObject({
      reason: { reason: "token.duplicate-name" },
    });

    const principals = (
      (await call(admin, "GET", "/api/v1/principals")).json() as {
        items: Array<{ name: string; activeTokens: number }>;
      }
    ).items;
    expect(principals.find((p) => p.name === "ci")).toMatchObject({ activeTokens: 2 });
    expect(principals.find((p) => p.name === "admin")).toMatchObject({ activeTokens: 2 });
    const service = await call(admin, "POST", "/api/v1/principals", { name: "Backup-Job", kind: "service" });
    expect(service.statusCode, service.body).toBe(201);
    expect(service.json()).toMatchObject({ name: "backup-job", kind: "service", activeTokens: 0 });
    const dup = await call(admin, "POST", "/api/v1/principals", { name: "backup-job" });
    expect(dup.json()).toMatchObject({ error: { reason: "principal.exists" } });
    expect((await newToken({ name: "nightly", role: "operator", principal: "backup-job" })).principal).toBe(
      "backup-job",
    );
  });

  it("a disabled principal's tokens do not authenticate until it is enabled again", async () => {
    const gina = await newToken({ name: "gina", role: "operator" });
    expect((await call(gina.token, "GET", "/api/v1/assets")).statusCode).toBe(200);
    const off = await call(admin, "POST", "/api/v1/principals/Gina/disable", {});
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json()).toMatchObject({ name: "gina", disabledAt: expect.any(String) });
    expect((await call(gina.token, "GET", "/api/v1/assets")).statusCode).toBe(401);
    const more = await call(admin, "POST", "/api/v1/tokens", {
      name: "gina-2",
      role: "viewer",
      principal: "gina",
    });
    expect(more.json()).toMatchObject({ error: { reason: "principal.disabled", where: "/body/principal" } });
    expect((await call(admin, "POST", "/api/v1/principals/gina/enable", {})).json()).toMatchObject({
      disabledAt: null,
    });
    expect((await call(gina.token, "GET", "/api/v1/assets")).statusCode).toBe(200);
    const missing = await call(admin, "POST", "/api/v1/principals/nobody/disable", {});
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { reason: "principal.not-found" } });
  });

  it("refuses to revoke the last active admin token, also when two revokes race", async () => {
    const list = () =>
      call(admin, "GET", "/api/v1/tokens").then(
        (r) =>
          (r.json() as { items: Array<{ id: string; name: string; role: string; revokedAt: string | null }> })
            .items,
      );
    const admins = (await list()).filter((t) => t.role === "admin" && t.revokedAt === null);
    const bootstrap = admins.find((t) => t.name === "bootstrap-admin");
    if (!bootstrap) throw new Error("no bootstrap token");
    for (const t of admins.filter((a) => a.id !== bootstrap.id)) {
      expect((await call(admin, "DELETE", `/api/v1/tokens/${t.id}`)).statusCode).toBe(204);
    }
    const before = await counts(store);
    // Before, this locked everyone out for good.
    const last = await call(admin, "DELETE", `/api/v1/tokens/${bootstrap.id}`);
    expect(last.statusCode, last.body).toBe(409);
    expect(last.json()).toMatchObject({ error: { code: "conflict", reason: "token.last-admin" } });
    expect(await counts(store)).toEqual(before);
    expect((await call(admin, "GET", "/api/v1/tokens")).statusCode).toBe(200);

    const frank = await createApiToken(ctx, SYSTEM_ACTOR, { name: "frank", role: "admin" });
    const race = await Promise.allSettled([
      revokeApiToken(ctx, SYSTEM_ACTOR, bootstrap.id),
      revokeApiToken(ctx, SYSTEM_ACTOR, frank.id),
    ]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(race.find((r) => r.status === "rejected")).toMatchObject({
      reason: { reason: "token.last-admin" },
    });
    const active = (await listApiTokens(ctx)).filter((t) => t.role === "admin" && t.revokedAt === null);
    expect(active).toHaveLength(1);
    // Disabling the principal that holds it is the same lock-out.
    await expect(
      setPrincipalDisabled(ctx, SYSTEM_ACTOR, active[0]?.principal ?? "", true),
    ).rejects.toMatchObject({
      reason: "token.last-admin",
    });
    expect(await authenticate(ctx, active[0]?.id === frank.id ? frank.token : admin)).toMatchObject({
      role: "admin",
    });
    await expect(revokeApiToken(ctx, SYSTEM_ACTOR, "no-such-token")).rejects.toMatchObject({
      reason: "token.not-found",
    });
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});

describe.each(DIALECTS)("migrating an existing store to principals on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  const secrets = { boot: "apt_boot-0123456789", alice: "apt_alice-0123456789", zw: "apt_zw-0123456789" };

  beforeAll(async () => {
    store = await freshStore(dialect, { migrate: false });
    const names = Object.keys(MIGRATIONS);
    const before = names[names.indexOf("0006-principals") - 1];
    if (!before) throw new Error("no migration before 0006-principals");
    const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => MIGRATIONS } });
    const { error } = await migrator.migrateTo(before);
    if (error) throw error;

    const at = "2026-10-01T00:00:00.000Z";
    const token = (id: string, name: string, role: string, kind: string, secret: string, by = "user:x") =>
      sql`insert into api_tokens (id, name, role, token_hash, kind, asset_id, created_at, created_by, last_used_at, revoked_at)
          values (${id}, ${name}, ${role}, ${hashSecret(secret)}, ${kind}, ${null}, ${at}, ${by}, ${null}, ${null})`.execute(
        store.db,
      );
    await token("t1", "bootstrap-admin", "admin", "user", secrets.boot, "system");
    await token("t2", "Alice", "operator", "user", secrets.alice);
    // The same person, as far as anyone reading the name can tell.
    await token("t3", "alice\u200b", "approver", "user", secrets.zw);
    await token("t4", "ALICE", "viewer", "user", "apt_alice-viewer-0123");
    await token("t5", "ci bot", "operator", "user", "apt_ci-0123456789");
    await token("t6", "system", "viewer", "user", "apt_sys-0123456789");
    await token("t7", "José", "viewer", "user", "apt_jose-0123456789");
    await token("t8", "host-1", "agent", "agent", "apa_host-0123456789", "enrollment-token:e1");
    const rule = JSON.stringify({
      required: 1,
      fromRoles: ["approver", "admin"],
      separationOfDuties: true,
      expiresAfterMs: 3_600_000,
    });
    await sql`insert into change_requests (id, title, package_name, package_version, advisories, selector, class,
        emergency, policy_name, policy_version, policy_hash, justification, requester, requester_name, state,
        approval_rule, review_state, created_at, updated_at)
      values ('chg-00000001', 'openssl', 'openssl', '3.0.15', '[]', 'name=web-1', 'routine', 0, 'default', 1, 'h',
        'fix', 'user:Alice', 'Alice', 'submitted', ${rule}, 'none', ${at}, ${at}),
        ('chg-00000002', 'openssl', 'openssl', '3.0.15', '[]', 'name=web-1', 'routine', 0, 'default', 1, 'h',
        'fix', 'user:bootstrap-admin', 'bootstrap-admin', 'submitted', ${rule}, 'none', ${at}, ${at})`.execute(
      store.db,
    );
    await sql`insert into approvals (id, change_id, decision, approver, approver_name, approver_role, reason, created_at, expires_at)
      values ('a1', 'chg-00000002', 'reject', 'user:ci bot', 'ci bot', 'approver', 'no', ${at}, ${null})`.execute(
      store.db,
    );
    const { error: latest } = await migrator.migrateToLatest();
    if (latest) throw latest;
  });
  afterAll(async () => store?.dispose());

  it("gives every user token the principal of its normalised name, the bootstrap token admin", async () => {
    const principals = await store.db
      .selectFrom("principals")
      .select(["name", "kind"])
      .orderBy("name")
      .execute();
    expect(principals.map((p) => p.name)).toEqual(["admin", "alice", "ci-bot", "jose", "system-user"]);
    const tokens = await store.db
      .selectFrom("api_tokens as t")
      .leftJoin("principals as p", "p.id", "t.principal_id")
      .select(["t.id", "t.name", "p.name as principal"])
      .orderBy("t.id")
      .execute();
    expect(tokens).toEqual([
      { id: "t1", name: "bootstrap-admin", principal: "admin" },
      { id: "t2", name: "alice", principal: "alice" },
      { id: "t3", name: "alice-2", principal: "alice" },
      { id: "t4", name: "alice-3", principal: "alice" },
      { id: "t5", name: "ci-bot", principal: "ci-bot" },
      { id: "t6", name: "system", principal: "system-user" },
      { id: "t7", name: "jose", principal: "jose" },
      // Agent credentials act for their asset, not for a person.
      { id: "t8", name: "host-1", principal: null },
    ]);
  });

  it("backfills requesters and approvers, so the migrated tokens keep separation of duties", async () => {
    const rows = await store.db
      .selectFrom("change_requests")
      .select(["id", "requester_principal"])
      .orderBy("id")
      .execute();
    expect(rows).toEqual([
      { id: "chg-00000001", requester_principal: "alice" },
      { id: "chg-00000002", requester_principal: "admin" },
    ]);
    expect(await store.db.selectFrom("approvals").select("approver_principal").execute()).toEqual([
      { approver_principal: "ci-bot" },
    ]);
    const ctx = contextFor(store);
    const zw = await authenticate(ctx, secrets.zw);
    expect(zw).toMatchObject({ kind: "user", name: "alice-2", principal: "alice", role: "approver" });
    // Before, "alice\u200b" could approve the change "Alice" requested.
    await expect(approveChange(ctx, zw, "chg-00000001")).rejects.toMatchObject({
      reason: "approval.separation-of-duties",
    });
    expect(await authenticate(ctx, secrets.boot)).toMatchObject({ principal: "admin", role: "admin" });
    expect(await authenticate(ctx, "apa_host-0123456789")).toMatchObject({
      kind: "agent",
      principal: "agent:t8",
    });
    expect((await listAudit(store.db, {})).events).toHaveLength(0);
  });
});
