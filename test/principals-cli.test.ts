import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAudit, verifyAuditChain } from "../src/audit/log.js";
import { authenticate, bootstrapAdminToken } from "../src/auth/tokens.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

interface Created {
  id: string;
  token: string;
  name: string;
  principal: string;
}

describe("token and principal commands as processes", () => {
  const admin = "apt_principals-cli-admin-0123456789";
  let testServer: TestServer | undefined;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    testServer = await startTestServer("principals-cli", admin);
    env = testServer.env;
  });
  afterAll(async () => testServer?.close());

  it("token create --principal: without it the token belongs to the principal named --name", async () => {
    const ops = await runCli(["token", "create", "--role", "operator", "--name", "Ops", "--json"], env);
    expect(ops.code, ops.stderr).toBe(0);
    expect(JSON.parse(ops.stdout)).toMatchObject({
      token: expect.stringMatching(/^apt_/),
      name: "ops",
      principal: "ops",
    });
    const cab = await runCli(
      ["token", "create", "--role", "approver", "--name", "cab", "--principal", "OPS", "--json"],
      env,
    );
    expect(cab.code, cab.stderr).toBe(0);
    const created = JSON.parse(cab.stdout) as Created;
    expect(created).toMatchObject({ name: "cab", principal: "ops" });

    const list = JSON.parse((await runCli(["token", "list", "--json"], env)).stdout) as Array<{
      id: string;
      principal: string | null;
    }>;
    expect(list.find((t) => t.id === created.id)?.principal).toBe("ops");
    const table = await runCli(["token", "list"], env);
    expect(table.stdout).toMatch(/PRINCIPAL/);
    expect(table.stdout).toMatch(/bootstrap-admin\s*│\s*admin/);

    const principals = JSON.parse((await runCli(["principal", "list", "--json"], env)).stdout) as Array<{
      name: string;
      activeTokens: number;
    }>;
    expect(principals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "ops", activeTokens: 2 }),
        expect.objectContaining({ name: "admin", activeTokens: 1 }),
      ]),
    );
    const service = await runCli(["principal", "create", "Backup", "--kind", "service", "--json"], env);
    expect(service.code, service.stderr).toBe(0);
    expect(JSON.parse(service.stdout)).toMatchObject({ name: "backup", kind: "service" });
    const disabled = await runCli(["principal", "disable", "backup", "--json"], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ name: "backup", disabledAt: expect.any(String) });
    expect((await runCli(["principal", "enable", "backup"], env)).stdout).toContain("backup enabled");
  });

  it("refuses names with hidden characters and the revocation of the last admin token", async () => {
    const bad = await runCli(["token", "create", "--role", "approver", "--name", "ops\u202e", "--json"], env);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr)).toMatchObject({
      error: { reason: "token.invalid-name", where: "--name" },
    });

    const list = JSON.parse((await runCli(["token", "list", "--json"], env)).stdout) as Array<{
      id: string;
      name: string;
    }>;
    const bootstrap = list.find((t) => t.name === "bootstrap-admin");
    if (!bootstrap) throw new Error("no bootstrap token");
    const revoke = await runCli(["token", "revoke", bootstrap.id, "--json"], env);
    expect(revoke.code).toBe(4);
    expect(JSON.parse(revoke.stderr)).toMatchObject({
      error: { code: "conflict", reason: "token.last-admin" },
    });
    expect((await runCli(["token", "list", "--json"], env)).code).toBe(0);
  });
});

describe.each(DIALECTS)("offline recovery with token create --database on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;

  beforeAll(async () => {
    store = await freshStore(dialect);
  });
  afterAll(async () => store?.dispose());

  it("creates an admin token straight on a store that has none left, audited as offline", async () => {
    const ctx = contextFor(store);
    const boot = await bootstrapAdminToken(ctx);
    if (!boot) throw new Error("no bootstrap token");
    // A store locked out already: every admin token revoked (as the server allowed before).
    await store.db.updateTable("api_tokens").set({ revoked_at: new Date().toISOString() }).execute();
    await expect(authenticate(ctx, boot.token)).rejects.toMatchObject({ code: "unauthenticated" });

    const bad = await runCli(
      ["token", "create", "--role", "admin", "--name", "res\u200dcue", "--database", store.url, "--json"],
      {},
    );
    expect(bad.code).toBe(2);
    const rescue = await runCli(
      ["token", "create", "--role", "admin", "--name", "rescue", "--database", store.url, "--json"],
      {},
    );
    expect(rescue.code, rescue.stderr).toBe(0);
    const created = JSON.parse(rescue.stdout) as Created;
    expect(created).toMatchObject({
      token: expect.stringMatching(/^apt_/),
      name: "rescue",
      principal: "rescue",
    });
    expect(await authenticate(ctx, created.token)).toMatchObject({
      kind: "user",
      role: "admin",
      principal: "rescue",
    });

    const events = (await listAudit(store.db, { action: "token.created" })).events;
    expect(events.at(-1)).toMatchObject({
      actor: "offline",
      targetId: created.id,
      data: { name: "rescue", role: "admin", principal: "rescue", offline: true },
    });
    expect(events.filter((e) => e.actor === "offline")).toHaveLength(1);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });
});
