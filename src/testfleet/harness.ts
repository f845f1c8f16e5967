import type { ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { newSecret } from "../auth/secrets.js";
import { ApiClient } from "../client/api-client.js";
import { ValidationError } from "../domain/errors.js";
import { createDpkgRoot } from "../localfleet/dpkg-root.js";
import { type FleetHost, spawnAgent, stopAgents } from "../localfleet/fleet.js";
import { type RunningServer, startServer } from "../server/start.js";
import { createLogger } from "../service/logger.js";
import { type HostService, startHostService } from "./host-service.js";
import { buildFleetPackages, FLEET_PACKAGE, type FleetPackages } from "./packages.js";

export interface TestFleetOptions {
  /** A folder the fleet owns: roots, agents' state, the store, the packages. */
  dir: string;
  hosts: number;
  groups?: readonly string[];
  regions?: readonly string[];
  environments?: readonly string[];
  /** Agents' heartbeat interval (the server's setting); short by default so that tests run fast. */
  heartbeatIntervalMs?: number;
  /** Join a running server with this admin token instead of starting one in this process. */
  server?: { url: string; adminToken: string };
  /** How long to wait for every host's first report. */
  readyTimeoutMs?: number;
}

export interface TestFleetHost extends FleetHost {
  group: string;
  region: string;
  environment: string;
  service: HostService;
  agent: ChildProcess;
}

export interface TestFleet {
  server: string;
  token: string;
  hosts: TestFleetHost[];
  packages: FleetPackages;
  /** The in-process server when the fleet started one. */
  running: RunningServer | null;
  /** Stops agents, services and the server it started; leaves `dir` in place. */
  stop(): Promise<void>;
}

/** What `test-fleet up` prints: the stable shape scripts read. */
export interface TestFleetDescription {
  server: string;
  token: string;
  hosts: Array<{
    name: string;
    dpkgRoot: string;
    group: string;
    region: string;
    environment: string;
    healthUrl: string;
    metricsUrl: string;
  }>;
  package: string;
  baseVersion: string;
  packages: { good: string; badHealth: string; badMetrics: string };
}

export const MAX_FLEET_HOSTS = 1000;

/**
 * Host i's placement: groups vary fastest, then regions, then environments, so that any N hosts are
 * spread as evenly as N allows over every combination.
 */
export function placementOf(
  i: number,
  groups: readonly string[],
  regions: readonly string[],
  environments: readonly string[],
): { group: string; region: string; environment: string } {
  const g = groups.length;
  const r = regions.length;
  return {
    group: groups[i % g] as string,
    region: regions[Math.floor(i / g) % r] as string,
    environment: environments[Math.floor(i / (g * r)) % environments.length] as string,
  };
}

/**
 * A realistic fleet on one machine: N hosts, each a private dpkg root with the fleet's package at its
 * base version, a small HTTP service whose health and metrics follow the installed version, and a real
 * `autopatch agent` process. Returns once every host has reported its inventory.
 */
export async function startTestFleet(options: TestFleetOptions): Promise<TestFleet> {
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > MAX_FLEET_HOSTS) {
    throw new ValidationError(`hosts must be a whole number from 1 to ${MAX_FLEET_HOSTS}`, {
      where: "--hosts",
    });
  }
  const groups = nonEmpty(options.groups, ["web"], "--groups");
  const regions = nonEmpty(options.regions, ["local"], "--regions");
  const environments = nonEmpty(options.environments, ["prod"], "--environments");
  await mkdir(options.dir, { recursive: true });
  const packages = await buildFleetPackages(join(options.dir, "packages"));

  let running: RunningServer | null = null;
  const services: HostService[] = [];
  const agents: ChildProcess[] = [];
  const stop = async () => {
    await stopAgents(agents);
    await Promise.all(services.map((s) => s.close()));
    await running?.close();
  };
  try {
    let url: string;
    let token: string;
    if (options.server) {
      ({ url, adminToken: token } = options.server);
    } else {
      token = newSecret("apt");
      running = await startServer({
        databaseUrl: `sqlite:${join(options.dir, "autopatch.db")}`,
        listen: "127.0.0.1:0",
        adminToken: token,
        config: { heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000 },
        logger: createLogger({ level: "warn" }),
      });
      url = running.url;
    }
    const api = new ApiClient(url, token);
    const enroll = await api.post<{ token: string }>("/api/v1/agent-tokens", { reusable: true });

    const hosts: TestFleetHost[] = [];
    const width = String(options.hosts).length;
    for (let i = 0; i < options.hosts; i++) {
      const name = `fleet-${String(i + 1).padStart(width, "0")}`;
      const dpkg = await createDpkgRoot(join(options.dir, "hosts", name));
      if ((await dpkg.installedVersion(packages.package)) === null) await dpkg.install([packages.base]);
      const service = await startHostService(dpkg.root, { seed: i + 1 });
      services.push(service);
      const place = placementOf(i, groups, regions, environments);
      const host: FleetHost = {
        name,
        placement: {
          ...place,
          labels: { "health-port": String(service.port), "metrics-port": String(service.port) },
        },
        dpkg,
        stateDir: join(options.dir, "agents", name),
      };
      const agent = spawnAgent(host, url, enroll.token);
      agents.push(agent);
      hosts.push({ ...host, ...place, service, agent });
    }
    await waitForReports(api, hosts, options.readyTimeoutMs ?? 60_000, options.dir);
    return { server: url, token, hosts, packages, running, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function nonEmpty(list: readonly string[] | undefined, fallback: string[], where: string): readonly string[] {
  if (list === undefined) return fallback;
  const cleaned = list.map((s) => s.trim()).filter((s) => s !== "");
  if (cleaned.length === 0) throw new ValidationError("give at least one name", { where });
  return cleaned;
}

interface AssetSummary {
  name: string;
  packages?: Array<{ name: string; version: string }>;
}

/** Polls until every host's asset exists with the fleet's package in its reported inventory. */
async function waitForReports(
  api: ApiClient,
  hosts: readonly TestFleetHost[],
  timeoutMs: number,
  dir: string,
) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(hosts.map((h) => h.name));
  while (pending.size > 0) {
    for (const host of hosts) {
      if (host.agent.exitCode !== null) {
        throw new ValidationError(
          `the agent of ${host.name} exited with status ${host.agent.exitCode}; see ${host.stateDir}.log`,
        );
      }
    }
    for (const name of [...pending]) {
      const asset = await api.get<AssetSummary>(`/api/v1/assets/${name}`).catch(() => null);
      if (asset?.packages?.some((p) => p.name === FLEET_PACKAGE)) pending.delete(name);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new ValidationError(
        `${pending.size} host(s) did not report within ${timeoutMs / 1000} s (${[...pending].slice(0, 5).join(", ")}); agents' logs are in ${join(dir, "agents")}`,
      );
    }
    await sleep(200);
  }
}

export function describeFleet(fleet: TestFleet): TestFleetDescription {
  return {
    server: fleet.server,
    token: fleet.token,
    hosts: fleet.hosts.map((h) => ({
      name: h.name,
      dpkgRoot: h.dpkg.root,
      group: h.group,
      region: h.region,
      environment: h.environment,
      healthUrl: h.service.healthUrl,
      metricsUrl: h.service.metricsUrl,
    })),
    package: fleet.packages.package,
    baseVersion: fleet.packages.baseVersion,
    packages: {
      good: fleet.packages.good,
      badHealth: fleet.packages.badHealth,
      badMetrics: fleet.packages.badMetrics,
    },
  };
}
