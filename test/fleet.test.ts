import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listDpkgPackages } from "../src/agent/dpkg-query.js";
import { ApiClient } from "../src/client/api-client.js";
import type { AssetWithPackages } from "../src/inventory/assets.js";
import { catalogVersions } from "../src/localfleet/catalog.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import { createLocalFleet, type LocalFleet, spawnAgent, stopAgents } from "../src/localfleet/fleet.js";
import { type RunningServer, startServer } from "../src/server/start.js";

function requireTool(tool: string, pkg: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
  } catch {
    throw new Error(`this test requires ${tool}: apt-get install ${pkg}`);
  }
}

const key = (p: {
  name: string;
  version: string;
  arch?: string | null;
  sourceName?: string | null;
  sourceVersion?: string | null;
}) => `${p.name} ${p.version} ${p.arch ?? ""} ${p.sourceName ?? ""} ${p.sourceVersion ?? ""}`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe("a server and three real agent processes on real dpkg roots", () => {
  let dir: string;
  let fleet: LocalFleet;
  let server: RunningServer;
  let api: ApiClient;
  let agents: ChildProcess[] = [];
  const logFile = () => join(dir, "server.log");
  const adminToken = "apt_fleet-test-admin-token-0123456789";
  let enrollToken = "";

  beforeAll(async () => {
    requireTool("dpkg-deb", "dpkg");
    requireTool("dpkg-query", "dpkg");
    dir = mkdtempSync(join(tmpdir(), "autopatch-fleet-"));
    fleet = await createLocalFleet(dir, 3);
    server = await startServer({
      databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
      listen: "127.0.0.1:0",
      adminToken,
      config: { heartbeatIntervalMs: 1000 },
      logger: pino({ level: "debug" }, pino.destination({ dest: logFile(), sync: true })),
    });
    api = new ApiClient(server.url, adminToken);
    enrollToken = (await api.post<{ token: string }>("/api/v1/agent-tokens", { reusable: true })).token;
    agents = fleet.hosts.map((host) => spawnAgent(host, server.url, enrollToken));
  }, 120_000);

  afterAll(async () => {
    await stopAgents(agents);
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the inventory in the store equals what dpkg-query reports for each root", async () => {
    for (const host of fleet.hosts) {
      const expected = (await listDpkgPackages({ admindir: host.dpkg.admindir })).map(key).sort();
      const stored = await until(`${host.name}'s report`, async () => {
        const asset = await api.get<AssetWithPackages>(`/api/v1/assets/${host.name}`).catch(() => undefined);
        return asset && asset.packages.length > 0 ? asset : undefined;
      });
      expect(stored.packages.map(key).sort()).toEqual(expected);
      expect(stored.packages.every((p) => p.ecosystem === "Debian:12")).toBe(true);
      expect(stored).toMatchObject({ ...host.placement, agentStatus: "active" });
    }
  });

  it("keeps each agent's credential with mode 0600", () => {
    for (const host of fleet.hosts) {
      const mode = statSync(join(host.stateDir, "agent.json")).mode & 0o777;
      expect(mode.toString(8)).toBe("600");
    }
  });

  it("reports a package change on its own, recorded as a version change", async () => {
    const host = fleet.hosts[0];
    if (!host) throw new Error("no host");
    const versions = catalogVersions("sudo");
    const newest = versions.at(-1);
    if (!newest) throw new Error("catalog has no sudo");
    const before = await host.dpkg.installedVersion("sudo");
    const target = before === newest.version ? versions[0] : newest;
    if (!target) throw new Error("no target version");
    await host.dpkg.install([await buildDeb(target, fleet.debDir)]);
    const stored = await until("the upgrade report", async () => {
      const asset = await api.get<AssetWithPackages>(`/api/v1/assets/${host.name}`);
      return asset.packages.find((p) => p.name === "sudo")?.version === target.version ? asset : undefined;
    });
    expect(stored.packages.map(key).sort()).toEqual(
      (await listDpkgPackages({ admindir: host.dpkg.admindir })).map(key).sort(),
    );
    const page = await api.get<{
      items: Array<{
        action: string;
        data: { changes?: Array<{ name: string; from: string; to: string }> };
      }>;
    }>("/api/v1/audit?action=inventory.reported&limit=1000");
    const changes = page.items.flatMap((e) => e.data.changes ?? []);
    expect(changes).toContainEqual(
      expect.objectContaining({ name: "sudo", from: before, to: target.version }),
    );
    expect((await api.get<{ ok: boolean }>("/api/v1/audit/verify")).ok).toBe(true);
  });

  it("never writes a token or credential to a log", async () => {
    const credentials = fleet.hosts.map(
      (h) =>
        (JSON.parse(readFileSync(join(h.stateDir, "agent.json"), "utf8")) as { credential: string })
          .credential,
    );
    const logs = [
      readFileSync(logFile(), "utf8"),
      ...fleet.hosts.map((h) => readFileSync(`${h.stateDir}.log`, "utf8")),
    ].join("\n");
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of [adminToken, enrollToken, ...credentials]) {
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(secret.slice(4));
    }
  });
});
