/**
 * Inputs that used to crash a request or silently destroy stored data: very large reports, empty
 * inventories, stale or truncated KEV catalogs, OSV records dated in the future, and placement fields,
 * package names and versions that a selector cannot target or a package manager must never see.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentOptions, runAgent } from "../src/agent/agent.js";
import { DEBIAN_12_OS_RELEASE } from "../src/agent/os-release.js";
import { inventoryReportSchema } from "../src/agent/protocol.js";
import { createEnrollmentToken } from "../src/auth/enrollment-tokens.js";
import { bootstrapAdminToken, createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildApp } from "../src/server/app.js";
import type { ServiceContext } from "../src/service/context.js";
import { runCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const FIXTURES = new URL("./fixtures/data/", import.meta.url);
const NODE_IMAGE = readFileSync(new URL("dpkg/debian12-bookworm-node-image.status", FIXTURES), "utf8");
const KEV_TEXT = readFileSync(new URL("kev/known_exploited_vulnerabilities.json", FIXTURES), "utf8");

interface KevDocument {
  catalogVersion: string;
  dateReleased: string;
  count: number;
  vulnerabilities: Array<{ cveID: string }>;
}

const debPackage = (name: string, version: string) => ({
  ecosystem: "Debian:12",
  name,
  version,
  arch: "amd64",
});

const osvRecord = (modified: string, summary: string) => ({
  id: "GHSA-test-0001",
  modified,
  summary,
  aliases: ["CVE-2026-0001"],
  affected: [
    {
      package: { ecosystem: "npm", name: "left-pad" },
      ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.3.1" }] }],
    },
  ],
});

describe.each(DIALECTS)("inputs that crash or destroy, on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let clock = new Date();
  let admin = "";
  let operator = "";
  let agent = "";

  const call = (
    token: string,
    method: "GET" | "POST" | "PUT" | "PATCH",
    url: string,
    payload?: unknown,
  ): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const packageCount = async (asset: string): Promise<number> => {
    const row = await store.db
      .selectFrom("installed_packages")
      .innerJoin("assets", "assets.id", "installed_packages.asset_id")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("assets.name", "=", asset)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const kevCount = async (): Promise<number> =>
    Number(
      (
        await store.db
          .selectFrom("kev_entries")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    admin = (await bootstrapAdminToken(ctx))?.token ?? "";
    operator = (await createApiToken(ctx, SYSTEM_ACTOR, { name: "ops", role: "operator" })).token;
    app = await buildApp(ctx);
    const enroll = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
    const enrolled = await call(enroll.token, "POST", "/api/v1/agent/enroll", { name: "big-host" });
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    agent = (enrolled.json() as { credential: string }).credential;
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it("stores an agent report of 40,000 packages, and replaces it with 40,000 other versions", async () => {
    const packages = Array.from({ length: 40_000 }, (_, i) => debPackage(`pkg-${i}`, "1.0-1"));
    const first = await call(agent, "PUT", "/api/v1/agent/inventory", { packages });
    expect(first.statusCode, first.body.slice(0, 300)).toBe(200);
    expect(first.json()).toMatchObject({ total: 40_000, added: 40_000 });
    const upgraded = packages.map((p) => ({ ...p, version: "1.0-2" }));
    const second = await call(agent, "PUT", "/api/v1/agent/inventory", { packages: upgraded });
    expect(second.statusCode, second.body.slice(0, 300)).toBe(200);
    expect(second.json()).toMatchObject({ total: 40_000, changed: 40_000, added: 0, removed: 0 });
    expect(await packageCount("big-host")).toBe(40_000);
  }, 120_000);

  it("refuses an import that would remove every package, unless allowEmpty", async () => {
    const imported = await call(operator, "POST", "/api/v1/inventory/import", {
      asset: "node-1",
      content: NODE_IMAGE,
      format: "dpkg",
      ecosystem: "Debian:12",
      file: "status",
    });
    expect(imported.statusCode, imported.body).toBe(200);
    expect(await packageCount("node-1")).toBe(719);

    for (const content of ["", "Package: x\n"]) {
      const r = await call(operator, "POST", "/api/v1/inventory/import", {
        asset: "node-1",
        content,
        format: "dpkg",
        file: "empty.status",
      });
      expect(r.statusCode, r.body).toBe(409);
      expect(r.json()).toMatchObject({
        error: { code: "conflict", reason: "inventory.would-empty", where: "empty.status" },
      });
      expect(await packageCount("node-1")).toBe(719);
    }

    const allowed = await call(operator, "POST", "/api/v1/inventory/import", {
      asset: "node-1",
      content: "",
      format: "dpkg",
      allowEmpty: true,
    });
    expect(allowed.statusCode, allowed.body).toBe(200);
    expect(allowed.json()).toMatchObject({ total: 0, removed: 719 });
    expect(await packageCount("node-1")).toBe(0);
    // An asset with nothing stored may report nothing: there is nothing to lose.
    const again = await call(operator, "POST", "/api/v1/inventory/import", {
      asset: "node-1",
      content: "",
      format: "dpkg",
    });
    expect(again.statusCode, again.body).toBe(200);
  });

  it("refuses an empty agent report for an asset that has packages", async () => {
    const before = await packageCount("big-host");
    expect(before).toBeGreaterThan(0);
    const r = await call(agent, "PUT", "/api/v1/agent/inventory", { packages: [] });
    expect(r.statusCode, r.body).toBe(409);
    expect(r.json()).toMatchObject({ error: { reason: "inventory.would-empty", where: "/body/packages" } });
    expect(await packageCount("big-host")).toBe(before);
  });

  it.each([
    ["a name past its limit", { packages: [debPackage("a", "1"), debPackage("b".repeat(501), "1")] }],
    ["a missing version", { packages: [{ ecosystem: "Debian:12", name: "a" }] }],
    ["a number for an arch", { packages: [{ ...debPackage("a", "1"), arch: 64 }] }],
    ["packages that are not a list", { packages: { a: 1 } }],
    ["an empty ecosystem", { packages: [{ ...debPackage("a", "1"), ecosystem: "" }] }],
  ])("refuses a full report with %s with zod's message at its pointer", async (_what, body) => {
    const before = await packageCount("big-host");
    const r = await call(agent, "PUT", "/api/v1/agent/inventory", body);
    expect(r.statusCode, r.body).toBe(400);
    const issue = inventoryReportSchema.safeParse(body).error?.issues[0];
    expect(r.json()).toMatchObject({
      error: { reason: "validation", message: issue?.message, where: `/body/${issue?.path.join("/")}` },
    });
    expect(await packageCount("big-host")).toBe(before);
  });

  it.each([
    ["a lone surrogate in a version", { packages: [debPackage("a", "1\ud800")] }, "/body/packages/0/version"],
    [
      "a lone surrogate under a key the schema does not name",
      { packages: [{ ...debPackage("a", "1"), extra: { deep: "\udc00" } }] },
      "/body/packages/0/extra/deep",
    ],
    [
      "a lone surrogate in a key",
      { packages: [{ ...debPackage("a", "1"), "\ud800": "x" }] },
      "/body/packages/0/\ud800",
    ],
  ])("refuses a full report with %s as the input guard does", async (_what, body, where) => {
    const r = await call(agent, "PUT", "/api/v1/agent/inventory", body);
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: { reason: "input.lone-surrogate", where } });
  });

  it("refuses two versions of one deb package and arch, at its pointer or line", async () => {
    const before = await packageCount("big-host");
    const r = await call(agent, "PUT", "/api/v1/agent/inventory", {
      packages: [
        debPackage("libssl3", "3.0.11-1~deb12u1"),
        debPackage("zlib1g", "1:1.2.13.dfsg-1"),
        debPackage("libssl3", "3.0.13-1~deb12u1"),
      ],
    });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({
      error: { reason: "inventory.duplicate-package", where: "/body/packages/2/version" },
    });
    expect(await packageCount("big-host")).toBe(before);

    const status = (version: string) =>
      `Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`;
    const imported = await call(operator, "POST", "/api/v1/inventory/import", {
      asset: "dup-1",
      content: `${status("3.0.11-1~deb12u1")}\n${status("3.0.13-1~deb12u1")}`,
      format: "dpkg",
      file: "status",
    });
    expect(imported.statusCode, imported.body).toBe(400);
    expect(imported.json()).toMatchObject({
      error: { reason: "inventory.duplicate-package", where: "status:9" },
    });
    expect((await call(admin, "GET", "/api/v1/assets/dup-1")).statusCode).toBe(404);
  });

  it("refuses an older or emptied KEV catalog and a mass removal unless forced", async () => {
    const catalog = JSON.parse(KEV_TEXT) as KevDocument;
    const first = await call(operator, "POST", "/api/v1/advisories/kev", catalog);
    expect(first.statusCode, first.body).toBe(200);
    expect(await kevCount()).toBe(1404);

    const older = await call(operator, "POST", "/api/v1/advisories/kev", {
      ...catalog,
      catalogVersion: "2025.08.01",
      dateReleased: "2025-08-01T00:00:00.000Z",
    });
    expect(older.statusCode, older.body).toBe(409);
    expect(older.json()).toMatchObject({
      error: { reason: "kev.older-catalog", where: "/body/catalogVersion" },
    });

    const empty = await call(operator, "POST", "/api/v1/advisories/kev", {
      ...catalog,
      count: 0,
      vulnerabilities: [],
    });
    expect(empty.statusCode, empty.body).toBe(409);
    expect(empty.json()).toMatchObject({
      error: { reason: "kev.mass-removal", where: "/body/vulnerabilities" },
    });

    const truncated = { ...catalog, vulnerabilities: catalog.vulnerabilities.slice(0, 1404 - 60) };
    const cut = await call(operator, "POST", "/api/v1/advisories/kev", truncated);
    expect(cut.statusCode, cut.body).toBe(409);
    expect(await kevCount()).toBe(1404);

    // A few removals are normal; so is a newer catalog.
    const newer = {
      ...catalog,
      catalogVersion: "2025.08.26",
      vulnerabilities: catalog.vulnerabilities.slice(3),
    };
    const fine = await call(operator, "POST", "/api/v1/advisories/kev", newer);
    expect(fine.statusCode, fine.body).toBe(200);
    expect(fine.json()).toMatchObject({ removed: 3, total: 1401 });

    const forced = await call(operator, "POST", "/api/v1/advisories/kev?force=true", {
      ...catalog,
      catalogVersion: "2025.08.01",
      vulnerabilities: [],
    });
    expect(forced.statusCode, forced.body).toBe(200);
    expect(forced.json()).toMatchObject({ removed: 1401, total: 0 });
    expect(await kevCount()).toBe(0);
  });

  it("rejects an OSV record modified in the future, and a stored future date does not pin a record", async () => {
    const future = await call(operator, "POST", "/api/v1/advisories/batch", {
      source: "pinned.json",
      records: [osvRecord("9999-12-31T00:00:00Z", "pinned")],
    });
    expect(future.statusCode, future.body).toBe(200);
    expect(future.json()).toMatchObject({
      added: 0,
      rejected: [{ index: 0, id: "GHSA-test-0001", where: "/records/0/modified" }],
    });
    expect((await call(admin, "GET", "/api/v1/advisories/GHSA-test-0001")).statusCode).toBe(404);

    // A store that took such a record before it was refused: a later correct record replaces it.
    const now = clock;
    clock = new Date("9999-12-31T00:00:00Z");
    try {
      const pinned = await call(operator, "POST", "/api/v1/advisories/batch", {
        source: "pinned.json",
        records: [osvRecord("9999-12-31T00:00:00Z", "pinned")],
      });
      expect(pinned.json()).toMatchObject({ added: 1 });
    } finally {
      clock = now;
    }
    const corrected = await call(operator, "POST", "/api/v1/advisories/batch", {
      source: "osv.dev",
      records: [osvRecord("2026-11-30T00:00:00Z", "corrected")],
    });
    expect(corrected.json()).toMatchObject({ updated: 1, unchanged: 0, rejected: [] });
    const shown = await call(admin, "GET", "/api/v1/advisories/GHSA-test-0001");
    expect(shown.json()).toMatchObject({ summary: "corrected", modified: "2026-11-30T00:00:00Z" });
    // A stale mirror's older copy of a record with a sane date still changes nothing.
    const stale = await call(operator, "POST", "/api/v1/advisories/batch", {
      source: "mirror",
      records: [osvRecord("2026-01-01T00:00:00Z", "stale")],
    });
    expect(stale.json()).toMatchObject({ unchanged: 1, updated: 0 });
  });

  it.each([
    ["environment", "prod\u0000"],
    ["group", "web,db"],
    ["region", "$(reboot)"],
    ["owner", "ops;rm -rf /"],
    ["group", "a b"],
  ])("refuses %s %j on an asset, an import and an enrollment", async (field, value) => {
    const patched = await call(operator, "PATCH", "/api/v1/assets/big-host", { [field]: value });
    expect(patched.statusCode, patched.body).toBe(400);
    expect(patched.json()).toMatchObject({
      error: { reason: "asset.invalid-placement", where: `/body/${field}` },
    });
    const imported = await call(operator, "POST", "/api/v1/inventory/import", {
      asset: "placed-1",
      content: NODE_IMAGE,
      format: "dpkg",
      placement: { [field]: value },
    });
    expect(imported.statusCode, imported.body).toBe(400);
    expect(imported.json()).toMatchObject({ error: { where: `/body/placement/${field}` } });
    expect((await call(admin, "GET", "/api/v1/assets/placed-1")).statusCode).toBe(404);
    if (field !== "owner") {
      const enroll = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
      const enrolled = await call(enroll.token, "POST", "/api/v1/agent/enroll", {
        name: "placed-2",
        [field]: value,
      });
      expect(enrolled.statusCode, enrolled.body).toBe(400);
      expect((await call(admin, "GET", "/api/v1/assets/placed-2")).statusCode).toBe(404);
    }
  });

  it("accepts placement values a selector can name", async () => {
    const patched = await call(operator, "PATCH", "/api/v1/assets/big-host", {
      environment: "prod",
      group: "web_1",
      region: "eu-west.1",
      owner: "team-web",
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const selected = await call(admin, "GET", "/api/v1/assets?selector=group%3Dweb_1%2Cregion%3Deu-west.1");
    expect((selected.json() as { items: Array<{ name: string }> }).items.map((a) => a.name)).toEqual([
      "big-host",
    ]);
  });

  const change = (extra: Record<string, unknown>) => ({
    package: "openssl",
    version: "3.0.15-1~deb12u1",
    selector: "name=big-host",
    justification: "CVE-2024-5535",
    ...extra,
  });

  it.each([
    [{ package: "openssl;reboot" }, "/package", "change.invalid-package"],
    [{ package: "openssl\u0000" }, "/package", "change.invalid-package"],
    [{ package: "OpenSSL" }, "/package", "change.invalid-package"],
    [{ package: "a" }, "/package", "change.invalid-package"],
    [{ package: "libssl3,curl" }, "/package", "change.invalid-package"],
    [{ version: "3.0.15-1 && reboot" }, "/version", "change.invalid-version"],
    [{ version: "$(id)" }, "/version", "change.invalid-version"],
    [{ version: "openssl-3" }, "/version", "change.invalid-version"],
    [{ version: "1:" }, "/version", "change.invalid-version"],
    [{ ecosystem: "npm", package: "left pad", version: "1.3.1" }, "/package", "change.invalid-package"],
    [{ ecosystem: "npm", package: "left-pad", version: "1.3" }, "/version", "change.invalid-version"],
    [{ ecosystem: "Hex" }, "/ecosystem", "validation"],
  ])("refuses the change %j at %s", async (extra, where, reason) => {
    const r = await call(operator, "POST", "/api/v1/changes", change(extra));
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "validation", reason, where: `/body${where}` } });
  });

  it.each([
    [{}],
    [{ package: "libstdc++6", version: "1:12.2.0-14+deb12u1" }],
    [{ ecosystem: "Ubuntu:22.04", version: "3.0.2-0ubuntu1.18" }],
    [{ ecosystem: "npm", package: "@types/node", version: "20.11.0" }],
    [{ ecosystem: "PyPI", package: "Django", version: "4.2.11" }],
  ])("accepts the change %j", async (extra) => {
    const r = await call(operator, "POST", "/api/v1/changes", change(extra));
    expect(r.statusCode, r.body).toBe(201);
  });
});

describe("the agent protocol's limit", () => {
  it("refuses more than 200,000 packages with a 400 that names the limit", async () => {
    const store = await freshStore("sqlite");
    const ctx = contextFor(store);
    const app = await buildApp(ctx);
    try {
      const enroll = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
      const enrolled = await app.inject({
        method: "POST",
        url: "/api/v1/agent/enroll",
        headers: { authorization: `Bearer ${enroll.token}` },
        payload: { name: "huge" },
      });
      const credential = (enrolled.json() as { credential: string }).credential;
      const packages = Array.from({ length: 200_001 }, (_, i) => ({
        ecosystem: "Debian",
        name: `p${i}`,
        version: "1",
      }));
      const r = await app.inject({
        method: "PUT",
        url: "/api/v1/agent/inventory",
        headers: { authorization: `Bearer ${credential}` },
        payload: { packages },
      });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ error: { code: "validation", where: "/body/packages" } });
      expect((r.json() as { error: { message: string } }).error.message).toMatch(/200000/);
    } finally {
      await app.close();
      await store.dispose();
    }
  }, 120_000);
});

/** Forwards requests to the server and counts them by method and path, to see what a client sends. */
async function countingProxy(
  target: string,
): Promise<{ url: string; count(key: string): number; close(): Promise<void> }> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const h of ["authorization", "content-type", "accept"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      fetch(`${target}${req.url}`, {
        method: req.method ?? "GET",
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (r) => {
          res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: (key) => counts.get(key) ?? 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("an agent whose dpkg database reads empty", () => {
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let root: string;

  beforeAll(async () => {
    server = await startTestServer("inputs-agent", "apt_inputs-agent-admin");
    proxy = await countingProxy(server.server.url);
    root = mkdtempSync(join(tmpdir(), "autopatch-inputs-root-"));
    mkdirSync(join(root, "var/lib/dpkg"), { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/os-release"), DEBIAN_12_OS_RELEASE);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Runs the agent until `done` holds or the time is up, then stops it. */
  async function runAgentUntil(options: Partial<AgentOptions>, done: () => Promise<boolean>, ms: number) {
    const controller = new AbortController();
    const running = runAgent({
      server: proxy.url,
      stateDir: join(root, "state"),
      dpkgRoot: root,
      logger: pino({ level: "silent" }),
      signal: controller.signal,
      changePollMs: 50,
      ...options,
    });
    const until = Date.now() + ms;
    while (Date.now() < until && !(await done())) await sleep(50);
    controller.abort();
    await running;
  }

  it("neither wipes its asset nor resends the refused report", async () => {
    const ctx = server.server.ctx;
    const packagesOf = async () =>
      (await ctx.store.db.selectFrom("installed_packages").select("name").execute()).length;
    writeFileSync(join(root, "var/lib/dpkg/status"), NODE_IMAGE);
    const enroll = await createEnrollmentToken(ctx, SYSTEM_ACTOR);
    await runAgentUntil(
      { enrollToken: enroll.token, name: "agent-1" },
      async () => (await packagesOf()) === 719,
      30_000,
    );
    expect(await packagesOf()).toBe(719);

    // A new, empty status file: the fingerprint changes, the agent reports once, the server refuses.
    rmSync(join(root, "var/lib/dpkg/status"));
    writeFileSync(join(root, "var/lib/dpkg/status"), "");
    const before = proxy.count("PUT /api/v1/agent/inventory");
    await runAgentUntil({}, async () => false, 2_500);
    expect(proxy.count("PUT /api/v1/agent/inventory") - before).toBe(1);
    expect(await packagesOf()).toBe(719);
  }, 60_000);
});

describe("the CLI's --allow-empty and --force", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer("inputs-cli", "apt_inputs-cli-admin");
  });
  afterAll(async () => server?.close());

  it("refuses an empty dpkg import and an older KEV catalog until told otherwise", async () => {
    const status = join(server.dir, "status");
    writeFileSync(status, NODE_IMAGE);
    const empty = join(server.dir, "empty.status");
    writeFileSync(empty, "Package: x\n");
    const importFile = (file: string, ...flags: string[]) =>
      runCli(
        ["inventory", "import", file, "--asset", "web-1", "--format", "dpkg", "--json", ...flags],
        server.env,
      );
    expect((await importFile(status)).code).toBe(0);
    const refused = await importFile(empty);
    expect(refused.code).toBe(4);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { reason: "inventory.would-empty" } });
    const allowed = await importFile(empty, "--allow-empty");
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ removed: 719, total: 0 });

    const kev = join(server.dir, "kev.json");
    writeFileSync(kev, KEV_TEXT);
    const older = join(server.dir, "kev-older.json");
    writeFileSync(
      older,
      JSON.stringify({ ...(JSON.parse(KEV_TEXT) as KevDocument), catalogVersion: "2024.01.01" }),
    );
    const importKevFile = (file: string, ...flags: string[]) =>
      runCli(["advisories", "import", file, "--kind", "kev", "--json", ...flags], server.env);
    expect((await importKevFile(kev)).code).toBe(0);
    const stale = await importKevFile(older);
    expect(stale.code).toBe(4);
    expect(JSON.parse(stale.stderr)).toMatchObject({ error: { reason: "kev.older-catalog" } });
    const forced = await importKevFile(older, "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ catalogVersion: "2024.01.01", removed: 0 });
  }, 60_000);
});
