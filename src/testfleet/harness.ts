import type { ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { runAgent } from "../agent/agent.js";
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
  /**
   * Runs every agent inside this process (each with its own identity, credential, dpkg root and
   * service port) instead of one `autopatch agent` process each: for benchmarks with hundreds of
   * hosts, where a Node process per host would measure process start-up and memory, not autopatch.
   */
  inProcessAgents?: boolean;
  /**
   * Whether the hosts' services simulate traffic for their /metrics (default true). A benchmark whose
   * gates read no metrics turns it off: 500 services ticking five times a second in the agents'
   * process were a sixth of its CPU, load real hosts carry on their own cores.
   */
  serviceTraffic?: boolean;
  /** Agents' log level in-process (default warn). */
  agentLogLevel?: string;
}

/** An agent running inside the fleet's process: its run ends when `stop` aborts it. */
export interface InProcessAgent {
  /** Settles when the agent's run ends; rejects with its fatal error. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** A host of an in-process fleet: the same as a host with its own agent process, but for its agent. */
export type InProcessFleetHost = Omit<TestFleetHost, "agent"> & { agent: InProcessAgent };

export interface TestFleetHost extends FleetHost {
  group: string;
  region: string;
  environment: string;
  service: HostService;
  agent: ChildProcess;
}

export interface TestFleet<Host = TestFleetHost> {
  server: string;
  token: string;
  hosts: Host[];
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
export async function startTestFleet(
  options: TestFleetOptions & { inProcessAgents: true },
): Promise<TestFleet<InProcessFleetHost>>;
export async function startTestFleet(
  options: TestFleetOptions & { inProcessAgents?: false },
): Promise<TestFleet<TestFleetHost>>;
export async function startTestFleet(
  options: TestFleetOptions,
): Promise<TestFleet<TestFleetHost> | TestFleet<InProcessFleetHost>> {
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
  const inProcess: InProcessAgent[] = [];
  const stop = async () => {
    await stopAgents(agents);
    await Promise.all(inProcess.map((a) => a.stop()));
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

    const hosts: Array<TestFleetHost | InProcessFleetHost> = [];
    const width = String(options.hosts).length;
    const agentLogger = createLogger({ level: options.agentLogLevel ?? "warn" });
    const prepared = await mapInPool(options.hosts, SETUP_CONCURRENCY, async (i) => {
      const name = `fleet-${String(i + 1).padStart(width, "0")}`;
      const dpkg = await createDpkgRoot(join(options.dir, "hosts", name));
      if ((await dpkg.installedVersion(packages.package)) === null) await dpkg.install([packages.base]);
      return { name, dpkg };
    });
    for (const [i, { name, dpkg }] of prepared.entries()) {
      const service = await startHostService(dpkg.root, {
        seed: i + 1,
        traffic: options.serviceTraffic ?? true,
      });
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
      if (options.inProcessAgents) {
        const agent = startInProcessAgent(host, url, enroll.token, agentLogger.child({ host: name }));
        inProcess.push(agent);
        hosts.push({ ...host, ...place, service, agent });
      } else {
        const agent = spawnAgent(host, url, enroll.token);
        agents.push(agent);
        hosts.push({ ...host, ...place, service, agent });
      }
    }
    const failures = new Map<string, string>();
    for (const h of hosts) {
      if ("done" in h.agent) h.agent.done.catch((err: Error) => failures.set(h.name, err.message));
    }
    const exited = (h: TestFleetHost | InProcessFleetHost): string | null => {
      if ("done" in h.agent) return failures.get(h.name) ?? null;
      return h.agent.exitCode === null ? null : `exited with status ${h.agent.exitCode}`;
    };
    await waitForReports(api, hosts, exited, options.readyTimeoutMs ?? 60_000, options.dir);
    return options.inProcessAgents
      ? { server: url, token, hosts: hosts as InProcessFleetHost[], packages, running, stop }
      : { server: url, token, hosts: hosts as TestFleetHost[], packages, running, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** dpkg runs while the roots are made: a few at a time, as many as a small machine has cores. */
const SETUP_CONCURRENCY = 4;

async function mapInPool<T>(count: number, width: number, run: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await run(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return out;
}

/** Runs `runAgent` for one host in this process, as `autopatch agent` would in its own. */
function startInProcessAgent(
  host: FleetHost,
  server: string,
  enrollToken: string,
  logger: Logger,
): InProcessAgent {
  const abort = new AbortController();
  const done = runAgent({
    server,
    enrollToken,
    name: host.name,
    stateDir: host.stateDir,
    dpkgRoot: host.dpkg.root,
    placement: host.placement,
    logger,
    signal: abort.signal,
  });
  // Observed here so that an agent that fails does not end the process; `done` still rejects.
  done.catch((err: unknown) => logger.error({ err }, "in-process agent stopped"));
  return {
    done,
    stop: async () => {
      abort.abort();
      await done.catch(() => undefined);
    },
  };
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
async function waitForReports<H extends { name: string; stateDir: string }>(
  api: ApiClient,
  hosts: readonly H[],
  exited: (host: H) => string | null,
  timeoutMs: number,
  dir: string,
) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(hosts.map((h) => h.name));
  while (pending.size > 0) {
    for (const host of hosts) {
      const why = exited(host);
      if (why !== null) {
        throw new ValidationError(`the agent of ${host.name} ${why}; see ${host.stateDir}.log`);
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
