import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAdvisory, listAdvisories } from "../src/advisories/catalog.js";
import { parseEpssCsv } from "../src/advisories/epss.js";
import { importAdvisoryBatch } from "../src/advisories/ingest/import-batch.js";
import { importEpss } from "../src/advisories/ingest/import-epss.js";
import { importKev } from "../src/advisories/ingest/import-kev.js";
import { importAdvisoryRecords } from "../src/advisories/ingest/import-records.js";
import { parseKevDocument } from "../src/advisories/kev.js";
import { readOsvSource } from "../src/advisories/osv/read.js";
import type { OsvRecord } from "../src/advisories/osv/schema.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { createApiToken } from "../src/auth/tokens.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { buildApp } from "../src/server/app.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import type { ServiceContext } from "../src/service/context.js";
import type { Store } from "../src/store/store.js";
import { runCli } from "./helpers/cli.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const DATA = join(import.meta.dirname, "fixtures", "data");
const OSV = join(DATA, "osv");
const KEV_FILE = join(DATA, "kev", "known_exploited_vulnerabilities.json");
const EPSS_2025 = join(DATA, "epss", "kev_epss_cvss_2025-08-26.csv");
const EPSS_2026 = join(DATA, "epss", "kev_epss_cvss_2026-08-22.csv");

async function readRecords(file: string): Promise<OsvRecord[]> {
  const records: OsvRecord[] = [];
  for await (const item of readOsvSource(join(OSV, file))) {
    if (!item.record) throw new Error(`fixture record rejected: ${item.error?.describe()}`);
    records.push(item.record);
  }
  return records;
}

// Read once for both dialects: validating 4,291 records is the slow part, not storing them.
const goRecords = readRecords("go-vulndb.jsonl");

async function tableCounts(store: Store) {
  const count = async (table: "advisories" | "advisory_packages" | "advisory_aliases" | "audit_events") =>
    Number(
      (
        await store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    advisories: await count("advisories"),
    packages: await count("advisory_packages"),
    aliases: await count("advisory_aliases"),
    audit: await count("audit_events"),
  };
}

async function auditActions(store: Store, action: string) {
  return store.db
    .selectFrom("audit_events")
    .select(["data"])
    .where("action", "=", action)
    .orderBy("seq")
    .execute();
}

const distinctAliases = (r: OsvRecord) => new Set([r.id, ...(r.aliases ?? [])]).size;

describe.each(DIALECTS)("advisory ingest on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let clock = new Date("2026-09-01T08:00:00Z");
  let go: OsvRecord[];

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    go = await goRecords;
  });
  afterAll(async () => store?.dispose());

  it("imports the Go vulnerability database: 4,291 records, 17 withdrawn, one audit event", async () => {
    expect(go).toHaveLength(4291);
    const summary = await importAdvisoryRecords(ctx, SYSTEM_ACTOR, go, "go-vulndb.jsonl");
    expect(summary).toEqual({ added: 4274, updated: 0, unchanged: 0, retired: 17, gitRanges: 0 });

    const live = go.filter((r) => r.withdrawn === undefined);
    expect(await tableCounts(store)).toEqual({
      advisories: 4291,
      packages: live.reduce((n, r) => n + (r.affected?.length ?? 0), 0),
      aliases: go.reduce((n, r) => n + distinctAliases(r), 0),
      audit: 1,
    });
    const [event] = await auditActions(store, "advisories.imported");
    expect(JSON.parse(event?.data ?? "{}")).toMatchObject({
      source: "go-vulndb.jsonl",
      records: 4291,
      added: 4274,
      retired: 17,
      truncated: true,
    });
    // A withdrawn advisory keeps its row but matches nothing.
    const withdrawn = await store.db
      .selectFrom("advisories")
      .leftJoin("advisory_packages", "advisory_packages.advisory_id", "advisories.id")
      .select(["advisories.id", "advisory_packages.name"])
      .where("advisories.withdrawn", "is not", null)
      .execute();
    expect(withdrawn).toHaveLength(17);
    expect(withdrawn.every((w) => w.name === null)).toBe(true);
  });

  it("re-importing the same records changes nothing but one audit event for the batch", async () => {
    const before = await tableCounts(store);
    const stamps = await store.db
      .selectFrom("advisories")
      .select(["id", "imported_at"])
      .orderBy("id")
      .execute();
    clock = new Date("2026-09-02T08:00:00Z");
    const summary = await importAdvisoryRecords(ctx, SYSTEM_ACTOR, go, "go-vulndb.jsonl");
    expect(summary).toEqual({ added: 0, updated: 0, unchanged: 4291, retired: 0, gitRanges: 0 });
    expect(await tableCounts(store)).toEqual({ ...before, audit: before.audit + 1 });
    // Not rewritten with the same values either: no row carries the second import's time.
    expect(
      await store.db.selectFrom("advisories").select(["id", "imported_at"]).orderBy("id").execute(),
    ).toEqual(stamps);
  });

  it("a record modified later updates; an older copy of it does not", async () => {
    const original = go.find((r) => r.id === "GO-2020-0001");
    if (!original) throw new Error("fixture lacks GO-2020-0001");
    const newer: OsvRecord = { ...original, modified: "2026-08-30T00:00:00Z", summary: "Revised summary" };
    expect(await importAdvisoryRecords(ctx, SYSTEM_ACTOR, [newer], "revision.json")).toMatchObject({
      updated: 1,
      added: 0,
    });
    expect(await importAdvisoryRecords(ctx, SYSTEM_ACTOR, [original], "stale-mirror.json")).toMatchObject({
      unchanged: 1,
      updated: 0,
    });
    const detail = await getAdvisory(ctx, "GO-2020-0001");
    expect(detail).toMatchObject({
      summary: "Revised summary",
      modified: "2026-08-30T00:00:00Z",
      source: "revision.json",
    });
    expect(detail.packages.map((p) => p.name)).toEqual(original.affected?.map((a) => a.package.name));
  });

  it("a withdrawn record retires the advisory: the row stays, its packages go", async () => {
    const original = go.find((r) => r.id === "GO-2020-0003");
    if (!original?.affected?.length) throw new Error("fixture lacks GO-2020-0003 with packages");
    const withdrawn: OsvRecord = {
      ...original,
      modified: "2026-08-31T00:00:00Z",
      withdrawn: "2026-08-31T00:00:00Z",
    };
    expect(await importAdvisoryRecords(ctx, SYSTEM_ACTOR, [withdrawn], "withdrawal.json")).toMatchObject({
      retired: 1,
    });
    const detail = await getAdvisory(ctx, "GO-2020-0003");
    expect(detail.withdrawn).toBe("2026-08-31T00:00:00Z");
    expect(detail.packages).toEqual([]);
    const byPackage = await listAdvisories(ctx, {
      ecosystem: "Go",
      package: original.affected[0]?.package.name,
    });
    expect(byPackage.advisories.map((a) => a.id)).not.toContain("GO-2020-0003");
  });

  it("a batch with a malformed record stores the others and nothing of the bad one", async () => {
    const before = await tableCounts(store);
    const good = (id: string) => ({
      id,
      modified: "2026-08-01T00:00:00Z",
      aliases: [`CVE-2026-${id.slice(-4)}`],
      affected: [
        {
          package: { ecosystem: "npm", name: `pkg-${id}` },
          ranges: [{ type: "SEMVER", events: [{ introduced: "0" }] }],
        },
      ],
    });
    const bad = good("TEST-0002");
    bad.affected[0]?.ranges.splice(0, 1, { type: "RANGE", events: [{ introduced: "0" }] });
    const result = await importAdvisoryBatch(ctx, SYSTEM_ACTOR, {
      source: "mixed-batch",
      records: [good("TEST-0001"), bad, good("TEST-0003")],
    });
    expect(result).toMatchObject({
      added: 2,
      rejected: [{ index: 1, id: "TEST-0002", where: "/records/1/affected/0/ranges/0/type" }],
    });
    expect(await tableCounts(store)).toEqual({
      advisories: before.advisories + 2,
      packages: before.packages + 2,
      aliases: before.aliases + 4,
      audit: before.audit + 1,
    });
    await expect(importAdvisoryRecords(ctx, SYSTEM_ACTOR, [go[0] as OsvRecord], " ")).rejects.toMatchObject({
      code: "validation",
      where: "source",
    });
    for (const table of ["advisories", "advisory_packages", "advisory_aliases"] as const) {
      const column = table === "advisories" ? "id" : "advisory_id";
      expect(
        await store.db.selectFrom(table).select(column).where(column, "=", "TEST-0002").execute(),
      ).toEqual([]);
    }
    expect(
      await store.db
        .selectFrom("advisory_aliases")
        .select("alias")
        .where("alias", "=", "CVE-2026-0002")
        .execute(),
    ).toEqual([]);
  });

  it("imports RUSTSEC and links GHSA ids with their CVE aliases", async () => {
    const rust = await readRecords("rustsec-crates.jsonl");
    expect(await importAdvisoryRecords(ctx, SYSTEM_ACTOR, rust, "rustsec-crates.jsonl")).toMatchObject({
      added: 1193,
      retired: 13,
      unchanged: 0,
    });
    const ghsa = await readRecords("ghsa-sample-trimmed.jsonl");
    expect(await importAdvisoryRecords(ctx, SYSTEM_ACTOR, ghsa, "ghsa-sample-trimmed.jsonl")).toMatchObject({
      added: 16,
    });
    const links = await store.db
      .selectFrom("advisory_aliases")
      .select(["alias", "advisory_id"])
      .where("advisory_id", "=", "GHSA-35jh-r3h4-6jhm")
      .orderBy("alias")
      .execute();
    expect(links).toEqual([
      { alias: "CVE-2021-23337", advisory_id: "GHSA-35jh-r3h4-6jhm" },
      { alias: "GHSA-35jh-r3h4-6jhm", advisory_id: "GHSA-35jh-r3h4-6jhm" },
    ]);
    const byCve = await listAdvisories(ctx, { id: "CVE-2021-23337" });
    expect(byCve.advisories.map((a) => a.id)).toEqual(["GHSA-35jh-r3h4-6jhm"]);
    expect((await getAdvisory(ctx, "CVE-2021-23337")).id).toBe("GHSA-35jh-r3h4-6jhm");
    const lodash = await listAdvisories(ctx, { ecosystem: "npm", package: "lodash" });
    expect(lodash.advisories.map((a) => a.id)).toContain("GHSA-35jh-r3h4-6jhm");
  });

  it("imports the KEV catalog (1,404 entries), replaces it idempotently, and rejects a bad one whole", async () => {
    const catalog = parseKevDocument(readFileSync(KEV_FILE, "utf8"), KEV_FILE);
    expect(await importKev(ctx, SYSTEM_ACTOR, catalog)).toEqual({
      catalogVersion: "2025.08.25",
      total: 1404,
      added: 1404,
      removed: 0,
      changed: 0,
      unchanged: 0,
      classMoves: [],
    });
    expect(await importKev(ctx, SYSTEM_ACTOR, catalog)).toMatchObject({ added: 0, unchanged: 1404 });
    const first = catalog.vulnerabilities[0];
    if (!first) throw new Error("empty KEV fixture");
    const twice = { ...catalog, vulnerabilities: [...catalog.vulnerabilities.slice(0, 10), first] };
    await expect(importKev(ctx, SYSTEM_ACTOR, twice)).rejects.toMatchObject({
      code: "validation",
      where: "/vulnerabilities/10/cveID",
    });
    const kevRows = await store.db
      .selectFrom("kev_entries")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(kevRows.n)).toBe(1404);
    expect(await auditActions(store, "advisories.kev_imported")).toHaveLength(2);
  });

  it("imports both EPSS files and joins KEV and EPSS facts to an advisory by its CVE alias", async () => {
    const older = parseEpssCsv(readFileSync(EPSS_2025, "utf8"), EPSS_2025);
    const newer = parseEpssCsv(readFileSync(EPSS_2026, "utf8"), EPSS_2026);
    expect(await importEpss(ctx, SYSTEM_ACTOR, older, "kev_epss_cvss_2025-08-26.csv")).toMatchObject({
      total: 1404,
      added: 1404,
      updated: 0,
    });
    const second = await importEpss(ctx, SYSTEM_ACTOR, newer, "kev_epss_cvss_2026-08-22.csv");
    expect(second).toMatchObject({ total: 1556, added: 152 });
    expect(second.updated + second.unchanged).toBe(1404);
    expect(second.updated).toBeGreaterThan(0);
    expect(await importEpss(ctx, SYSTEM_ACTOR, newer)).toMatchObject({
      unchanged: 1556,
      added: 0,
      updated: 0,
    });

    // Spring4Shell: GHSA-36p3-wjmg-h94x aliases CVE-2022-22965, which is in KEV.
    const spring = await getAdvisory(ctx, "GHSA-36p3-wjmg-h94x");
    expect(spring.kev).toEqual([
      expect.objectContaining({ cve: "CVE-2022-22965", catalogVersion: "2025.08.25" }),
    ]);
    const score = newer.find((e) => e.cve === "CVE-2022-22965");
    expect(spring.epss).toHaveLength(1);
    expect(spring.epss[0]?.epss).toBeCloseTo(score?.epss ?? -1, 5);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("pages through advisories by id", async () => {
    const first = await listAdvisories(ctx, { ecosystem: "Go", limit: 2 });
    expect(first.advisories).toHaveLength(2);
    expect(first.next).toBe(first.advisories[1]?.id);
    const second = await listAdvisories(ctx, { ecosystem: "go", limit: 2, after: first.next ?? "" });
    expect((second.advisories[0]?.id ?? "") > (first.next ?? "")).toBe(true);
    await expect(listAdvisories(ctx, { limit: 0 })).rejects.toMatchObject({
      code: "validation",
      where: "limit",
    });
    await expect(getAdvisory(ctx, "GO-1999-9999")).rejects.toMatchObject({ code: "not_found" });
  });

  describe("the HTTP API", () => {
    let app: FastifyInstance;
    const auth = new Map<string, string>();

    beforeAll(async () => {
      for (const role of ["viewer", "operator"] as const) {
        const { token } = await createApiToken(ctx, SYSTEM_ACTOR, { name: `api-${role}`, role });
        auth.set(role, `Bearer ${token}`);
      }
      app = await buildApp(ctx);
    });
    afterAll(async () => app?.close());

    it("rejects each malformed record of a batch with a JSON pointer and imports the rest", async () => {
      const record = (id: string, type = "SEMVER") => ({
        id,
        modified: "2026-08-02T00:00:00Z",
        affected: [
          {
            package: { ecosystem: "crates.io", name: id },
            ranges: [{ type, events: [{ introduced: "0" }] }],
          },
        ],
      });
      const response = await app.inject({
        method: "POST",
        url: "/api/v1/advisories/batch",
        headers: { authorization: auth.get("operator") ?? "" },
        payload: {
          source: "api-batch",
          records: [
            record("API-1"),
            record("API-2"),
            record("API-3"),
            record("API-4", "CVS"),
            { id: "API-5" },
          ],
        },
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({
        added: 3,
        updated: 0,
        unchanged: 0,
        retired: 0,
        gitRanges: 0,
        rejected: [
          {
            index: 3,
            id: "API-4",
            where: "/records/3/affected/0/ranges/0/type",
            message: expect.any(String),
          },
          { index: 4, id: "API-5", where: "/records/4/modified", message: expect.any(String) },
        ],
      });
      const shown = await app.inject({
        url: "/api/v1/advisories/API-1",
        headers: { authorization: auth.get("viewer") ?? "" },
      });
      expect(shown.statusCode).toBe(200);
      expect(shown.json()).toMatchObject({
        id: "API-1",
        packages: [{ ecosystem: "crates.io", name: "API-1" }],
      });
      const missing = await app.inject({
        url: "/api/v1/advisories/API-4",
        headers: { authorization: auth.get("viewer") ?? "" },
      });
      expect(missing.statusCode).toBe(404);
    });

    it("needs the operate permission to import, read to list; a bad body says where", async () => {
      const denied = await app.inject({
        method: "POST",
        url: "/api/v1/advisories/batch",
        headers: { authorization: auth.get("viewer") ?? "" },
        payload: { source: "x", records: [] },
      });
      expect(denied.statusCode).toBe(403);
      const list = await app.inject({
        url: "/api/v1/advisories?ecosystem=npm&package=lodash",
        headers: { authorization: auth.get("viewer") ?? "" },
      });
      expect(list.statusCode).toBe(200);
      expect(list.json().items.map((a: { id: string }) => a.id)).toContain("GHSA-35jh-r3h4-6jhm");
      const badKev = await app.inject({
        method: "POST",
        url: "/api/v1/advisories/kev",
        headers: { authorization: auth.get("operator") ?? "" },
        payload: { catalogVersion: "1", dateReleased: "x", count: 1, vulnerabilities: [{ cveID: "CVE-1" }] },
      });
      expect(badKev.statusCode).toBe(400);
      expect(badKev.json()).toMatchObject({
        error: { code: "validation", where: "/body/vulnerabilities/0/cveID" },
      });
      const badEpss = await app.inject({
        method: "POST",
        url: "/api/v1/advisories/epss",
        headers: { authorization: auth.get("operator") ?? "" },
        payload: {
          csv: "cve,epss,percentile\nCVE-2024-0001,0.5,0.9\nCVE-2024-0002,1.5,0.9\n",
          file: "scores.csv",
        },
      });
      expect(badEpss.statusCode).toBe(400);
      expect(badEpss.json()).toMatchObject({ error: { where: "scores.csv:3" } });
    });
  });
});

describe("`autopatch advisories` as a process", () => {
  let dir: string;
  let server: RunningServer;
  const admin = "apt_advisories-cli-admin-token-0123";
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-advisories-cli-"));
    server = await startServer({
      databaseUrl: `sqlite:${join(dir, "server.db")}`,
      listen: "127.0.0.1:0",
      adminToken: admin,
      logger: pino({ level: "silent" }),
    });
    env = { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: admin };
    const mixed = join(dir, "mixed");
    mkdirSync(join(mixed, "nested"), { recursive: true });
    copyFileSync(join(OSV, "ghsa-sample-trimmed.jsonl"), join(mixed, "ghsa.jsonl"));
    writeFileSync(join(mixed, "nested", "broken.json"), '{"id": "BROKEN-1",\n  "modified": }\n');
    writeFileSync(
      join(mixed, "nested", "bad-range.json"),
      JSON.stringify([
        {
          id: "BAD-RANGE-1",
          modified: "2026-01-01T00:00:00Z",
          affected: [
            {
              package: { ecosystem: "npm", name: "x" },
              ranges: [{ type: "DATE", events: [{ introduced: "0" }] }],
            },
          ],
        },
      ]),
    );
    mkdirSync(join(dir, "all-bad"));
    writeFileSync(join(dir, "all-bad", "only.json"), '{"id": "ONLY-1"}');
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Each process start costs a second or more on a busy machine: four runs cover the paths that only
  // the CLI has (reading, batching, locating rejections, detection, offline); the rest is tested above.
  it("imports a directory through the server, naming each malformed file with its line or pointer", async () => {
    const result = await runCli(["advisories", "import", join(dir, "mixed"), "--batch", "5"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /18 records; 16 added, 0 updated, 0 unchanged, 0 retired, 2 rejected; 0 GIT ranges/,
    );
    expect(result.stderr).toContain(
      `rejected ${join(dir, "mixed", "nested", "bad-range.json")}#/0/affected/0/ranges/0/type:`,
    );
    expect(result.stderr).toContain(`rejected ${join(dir, "mixed", "nested", "broken.json")}:2:15:`);
    const stored = await server.ctx.store.db.selectFrom("advisories").select("id").execute();
    expect(stored).toHaveLength(16);
  });

  it("exits 2 when every record is rejected, and stores nothing", async () => {
    const result = await runCli(["advisories", "import", join(dir, "all-bad")], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/1 records; 0 added.*1 rejected/);
    expect(result.stderr).toContain(`rejected ${join(dir, "all-bad", "only.json")}#/modified:`);
    const stored = await server.ctx.store.db
      .selectFrom("advisories")
      .select("id")
      .where("id", "=", "ONLY-1")
      .execute();
    expect(stored).toEqual([]);
  });

  it("tells a KEV catalog from its content, and imports offline with --database", async () => {
    const kev = await runCli(["advisories", "import", KEV_FILE, "--json"], env);
    expect(kev.code, kev.stderr).toBe(0);
    expect(JSON.parse(kev.stdout)).toMatchObject({ kind: "kev", total: 1404, added: 1404 });
    const offline = `sqlite:${join(dir, "offline.db")}`;
    const osv = await runCli(
      ["advisories", "import", join(dir, "mixed"), "--database", offline, "--json"],
      {},
    );
    expect(osv.code, osv.stderr).toBe(0);
    const summary = JSON.parse(osv.stdout);
    expect(summary).toMatchObject({ records: 18, added: 16 });
    expect(summary.rejected.map((r: { where: string }) => r.where).sort()).toEqual([
      `${join(dir, "mixed", "nested", "bad-range.json")}#/0/affected/0/ranges/0/type`,
      `${join(dir, "mixed", "nested", "broken.json")}:2:15`,
    ]);
  });
});
