/**
 * Invariant 9 across a crash: the re-match an import owes is recorded in the import's commit, so a
 * server killed (SIGKILL) after the commit and before the re-match still ends with the findings of an
 * uninterrupted run once it restarts. AUTOPATCH_HOLD_WORK=1 keeps the first server from doing the
 * owed work, which pins the kill between the two.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/log.js";
import { openStore, type Store } from "../src/store/store.js";
import { debianAdvisory } from "./helpers/advisories.js";
import { type FreshDatabase, freshDatabase } from "./helpers/database-url.js";
import { type ServerProcess, spawnServer } from "./helpers/server-process.js";
import { DIALECTS } from "./helpers/stores.js";

const DATA = join(import.meta.dirname, "fixtures", "data");
const STATUS = readFileSync(join(DATA, "dpkg", "debian12-bookworm-node-image.status"), "utf8");
const KEV = JSON.parse(readFileSync(join(DATA, "kev", "known_exploited_vulnerabilities.json"), "utf8"));
const EPSS_FILE = "kev_epss_cvss_2025-08-26.csv";
const EPSS = readFileSync(join(DATA, "epss", EPSS_FILE), "utf8");
const ADMIN = "crash-test-admin-token-0123456789";

// Source packages of the image, each with a fix newer than the installed version; the CVEs are in the
// KEV catalog and the EPSS file (git's and openssl's) or in neither (curl's).
const ADVISORIES = [
  debianAdvisory({
    id: "DSA-9001-1",
    cve: "CVE-2025-48384",
    source: "git",
    fixed: "1:2.39.5-0+deb12u4",
    cvss: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H",
    modified: "2025-09-01T00:00:00Z",
  }),
  debianAdvisory({
    id: "DSA-9002-1",
    cve: "CVE-2025-43300",
    source: "openssl",
    fixed: "3.0.19-1~deb12u3",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    modified: "2025-09-01T00:00:00Z",
  }),
  debianAdvisory({
    id: "DSA-9003-1",
    cve: "CVE-2023-38545",
    source: "curl",
    fixed: "7.88.1-10+deb12u15",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    modified: "2025-09-01T00:00:00Z",
  }),
];

async function post(server: ServerProcess, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text}\n${server.log()}`);
  return JSON.parse(text);
}

/** Two hosts' inventories, then advisories, KEV and EPSS, as an operator would import them. */
async function importEverything(server: ServerProcess): Promise<void> {
  for (const asset of ["web-1", "web-2"]) {
    await post(server, "/api/v1/inventory/import", {
      asset,
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
  }
  await post(server, "/api/v1/advisories/batch", { source: "debian-test.json", records: ADVISORIES });
  await post(server, "/api/v1/advisories/kev", KEV);
  await post(server, "/api/v1/advisories/epss", { csv: EPSS, file: EPSS_FILE });
}

/** The findings as a user sees them, without ids and times (which differ between two runs). */
async function findingsOf(store: Store): Promise<unknown[]> {
  const rows = await store.db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "assets.name as asset",
      "findings.ecosystem",
      "findings.package_name",
      "findings.arch",
      "findings.installed_version",
      "findings.vuln_id",
      "findings.advisory_ids",
      "findings.aliases",
      "findings.fixed_version",
      "findings.severity_score",
      "findings.epss",
      "findings.kev",
      "findings.risk_score",
      "findings.class",
      "findings.status",
    ])
    .execute();
  return rows
    .map((r) => ({
      ...r,
      severity_score: r.severity_score === null ? null : Number(r.severity_score),
      epss: r.epss === null ? null : Number(Number(r.epss).toFixed(5)),
      kev: Number(r.kev),
      risk_score: Number(Number(r.risk_score).toFixed(4)),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function owed(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom("work_items")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(DIALECTS)("a crash between an import's commit and its re-match (%s)", (dialect) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function database(): Promise<FreshDatabase> {
    const db = await freshDatabase(dialect);
    cleanup.push(() => db.dispose());
    return db;
  }

  async function server(url: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const running = await spawnServer({ AUTOPATCH_DATABASE_URL: url, AUTOPATCH_ADMIN_TOKEN: ADMIN, ...env });
    cleanup.push(() => running.kill("SIGKILL"));
    return running;
  }

  async function store(url: string): Promise<Store> {
    const opened = await openStore(url, { migrate: false });
    cleanup.push(() => opened.close());
    return opened;
  }

  it("ends, after a restart, with the findings of an uninterrupted run", { timeout: 180_000 }, async () => {
    // The uninterrupted run: each import's re-match is done before its request returns.
    const reference = await database();
    const plain = await server(reference.url);
    await importEverything(plain);
    const referenceStore = await store(reference.url);
    expect(await owed(referenceStore)).toBe(0);
    const expected = await findingsOf(referenceStore);
    await plain.kill("SIGTERM");
    expect(expected.length).toBeGreaterThan(0);
    expect(expected).toContainEqual(expect.objectContaining({ package_name: "git", kev: 1 }));
    expect(expected).toContainEqual(
      expect.objectContaining({ package_name: "libcurl4", kev: 0, epss: null }),
    );

    // Every import commits, none of the owed work runs, and the server dies at once.
    const crashed = await database();
    const first = await server(crashed.url, { AUTOPATCH_HOLD_WORK: "1" });
    await importEverything(first);
    const crashedStore = await store(crashed.url);
    expect(await owed(crashedStore)).toBeGreaterThan(0);
    expect(await findingsOf(crashedStore)).toEqual([]);
    await first.kill("SIGKILL");

    // The restarted server finds the work owed and does it.
    const second = await server(crashed.url);
    await until("the owed work to be done", async () => (await owed(crashedStore)) === 0);
    expect(await findingsOf(crashedStore)).toEqual(expected);
    await second.kill("SIGTERM");
    expect(await verifyAuditChain(crashedStore.db)).toMatchObject({ ok: true });
  });
});
