/**
 * End-to-end rollout scenarios: a real server (in this process, or its own process that a test may
 * SIGKILL and restart on the same store and port), a test fleet of real agent processes on private
 * dpkg roots, real .deb packages, and the operator's paths (upload an artifact, create, submit and
 * approve a change, read `rollout show`). Everything goes over HTTP or the store's own tables, so the
 * scenarios exercise what a user would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { newSecret } from "../../src/auth/secrets.js";
import { CLI_PATH } from "../../src/localfleet/fleet.js";
import { type RunningServer, startServer } from "../../src/server/start.js";
import { type DialectName, openStore, type Store } from "../../src/store/store.js";
import { startTestFleet, type TestFleet } from "../../src/testfleet/harness.js";
import { freshDatabase } from "../helpers/database-url.js";

/** The scenarios' pace: agents heartbeat every second, the engine passes every 200 ms. */
export const HEARTBEAT_MS = 1000;
export const ENGINE_PASS_MS = 200;

/**
 * Deadlines of the steps that legitimately wait, generous so that a loaded machine does not fail a
 * scenario: each wait polls and ends as soon as its step is done, so a passing run takes no longer.
 */
const SERVER_START_MS = 90_000;
/** Every host's first inventory report: agent processes starting side by side, each enrolling. */
const FLEET_READY_MS = 150_000;
/** The engine creating a change's rollout after its approval. */
const ROLLOUT_CREATED_MS = 60_000;

/** A small typed HTTP client of the API (the promised JSON shapes), independent of the CLI. */
export class Api {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    if (!response.ok) throw new HttpError(method, path, response.status, text);
    return (text === "" ? null : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  /** Uploads a .deb's bytes to the artifact store. */
  async upload(file: string): Promise<ArtifactMeta> {
    const response = await fetch(`${this.url}/api/v1/artifacts`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.token}`,
        "content-type": "application/vnd.debian.binary-package",
      },
      body: readFileSync(file),
    });
    const text = await response.text();
    if (!response.ok) throw new HttpError("POST", "/api/v1/artifacts", response.status, text);
    return JSON.parse(text) as ArtifactMeta;
  }
}

export class HttpError extends Error {
  constructor(
    method: string,
    path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: ${status} ${body}`);
  }
}

export interface ArtifactMeta {
  sha256: string;
  fileName: string;
  package: string;
  version: string;
}

/** What `rollout show --json` (and GET /api/v1/rollouts/:id) prints: the fields the scenarios read. */
export interface RolloutShow {
  id: string;
  changeId: string;
  state: string;
  stateReason: string | null;
  phases: Array<{
    name: string;
    state: string;
    assets: string[];
    ring: string | null;
    gates: Array<{ kind: string; status: string; reason: string }>;
  }>;
  assets: Array<{
    name: string;
    state: string;
    fromVersion: string | null;
    toVersion: string;
    startedAt: string | null;
    finishedAt: string | null;
    group: string;
    region: string;
    attempt: number;
  }>;
  timeToRollbackMs: number | null;
  incidentId: string | null;
  failedGate: unknown;
  gateFailedAt: string | null;
}

export const TERMINAL = ["completed", "rolled-back", "failed", "aborted"];

/** A server this test controls: in this process, or a process it may kill and start again. */
export interface ScenarioServer {
  url: string;
  /** The store's URL: the test reads the engine's tables through its own connection. */
  databaseUrl: string;
  /** SIGKILL (process servers only). */
  kill(): Promise<void>;
  /** Starts it again on the same store and port after a kill. */
  restart(): Promise<void>;
  close(): Promise<void>;
  /** Process servers: how many times it was started. */
  starts: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function inProcessServer(databaseUrl: string, adminToken: string): Promise<ScenarioServer> {
  const running: RunningServer = await startServer({
    databaseUrl,
    listen: "127.0.0.1:0",
    adminToken,
    config: { heartbeatIntervalMs: HEARTBEAT_MS, enginePassMs: ENGINE_PASS_MS },
    logger: pino({ level: "silent" }),
  });
  return {
    url: running.url,
    databaseUrl,
    starts: 1,
    kill: async () => {
      throw new Error("an in-process server cannot be killed; use a process server");
    },
    restart: async () => {
      throw new Error("an in-process server cannot be restarted");
    },
    close: () => running.close(),
  };
}

/**
 * `autopatch server` from the build as its own process, on a fixed loopback port so that agents find
 * it again after a restart. Its log is kept for failure messages.
 */
async function processServer(databaseUrl: string, adminToken: string, dir: string): Promise<ScenarioServer> {
  const port = await freePort();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AUTOPATCH_")));
  let child: ChildProcess | null = null;
  let log = "";
  const start = async () => {
    const proc = spawn(
      process.execPath,
      [
        CLI_PATH,
        "server",
        "--listen",
        `127.0.0.1:${port}`,
        "--heartbeat-interval",
        `${HEARTBEAT_MS}ms`,
        "--engine-pass",
        `${ENGINE_PASS_MS}ms`,
      ],
      {
        env: {
          ...base,
          AUTOPATCH_DATABASE_URL: databaseUrl,
          AUTOPATCH_ADMIN_TOKEN: adminToken,
          AUTOPATCH_STATE_DIR: dir,
          AUTOPATCH_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    child = proc;
    proc.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20_000);
    });
    // A start (migrations included) takes seconds on a loaded machine; the wait ends when it answers.
    const deadline = Date.now() + SERVER_START_MS;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${log}`);
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`server did not start:\n${log}`);
      await sleep(50);
    }
  };
  const stop = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill(signal);
    await exited;
  };
  await start();
  const server: ScenarioServer = {
    url: `http://127.0.0.1:${port}`,
    databaseUrl,
    starts: 1,
    kill: () => stop("SIGKILL"),
    restart: async () => {
      await start();
      server.starts += 1;
    },
    close: () => stop("SIGTERM"),
  };
  return server;
}

export interface ScenarioOptions {
  name: string;
  hosts: number;
  groups?: string[];
  regions?: string[];
  environments?: string[];
  /** `process`: a server process the test may SIGKILL and restart. Default: in this process. */
  server?: "in-process" | "process";
  /** `postgres`: the store is a fresh database in the run's PostgreSQL. Default: a SQLite file. */
  dialect?: DialectName;
}

export interface Scenario {
  dir: string;
  server: ScenarioServer;
  fleet: TestFleet;
  /** Admin: uploads, creates and submits changes, applies policies. */
  admin: Api;
  /** A second person who approves (separation of duties). */
  approver: Api;
  operator: Api;
  /** The test's own connection to the store, for the engine's tables and the audit log. */
  store: Store;
  /** AUTOPATCH_SERVER and AUTOPATCH_TOKEN for runCli. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startScenario(options: ScenarioOptions): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), `autopatch-${options.name}-`));
  const adminToken = newSecret("apt");
  const database = await freshDatabase(options.dialect ?? "sqlite");
  const databaseUrl = database.url;
  const server =
    options.server === "process"
      ? await processServer(databaseUrl, adminToken, dir)
      : await inProcessServer(databaseUrl, adminToken);
  let fleet: TestFleet | null = null;
  let store: Store | null = null;
  const close = async () => {
    await fleet?.stop();
    await server.close();
    await store?.close();
    await database.dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    fleet = await startTestFleet({
      dir: join(dir, "fleet"),
      hosts: options.hosts,
      ...(options.groups ? { groups: options.groups } : {}),
      ...(options.regions ? { regions: options.regions } : {}),
      ...(options.environments ? { environments: options.environments } : {}),
      server: { url: server.url, adminToken },
      heartbeatIntervalMs: HEARTBEAT_MS,
      readyTimeoutMs: FLEET_READY_MS,
    });
    store = await openStore(databaseUrl, { migrate: false });
    const admin = new Api(server.url, adminToken);
    const tokenOf = async (name: string, role: string) =>
      new Api(server.url, (await admin.post<{ token: string }>("/api/v1/tokens", { name, role })).token);
    return {
      dir,
      server,
      fleet,
      admin,
      approver: await tokenOf("cab-approver", "approver"),
      operator: await tokenOf("ops-operator", "operator"),
      store,
      env: { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: adminToken },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Starts the scenario before the file's tests, with its policies applied, and closes it after them. */
export function useScenario(options: ScenarioOptions, ...policies: string[]): () => Scenario {
  let s: Scenario | undefined;
  beforeAll(
    async () => {
      s = await startScenario(options);
      for (const policy of policies) await applyPolicy(s, policy);
    },
    FLEET_READY_MS + SERVER_START_MS + 60_000,
  );
  afterAll(async () => {
    await s?.close();
  });
  return () => {
    if (s === undefined) throw new Error(`scenario ${options.name} did not start`);
    return s;
  };
}

/** The scenarios' policy: short intervals, no announcement delay, each host's own /health checked. */
export function scenarioPolicy(name: string, rollout: string, extra = ""): string {
  return `name: ${name}
approvals:
  required: 1
rollout:
${rollout
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
  notifyBefore: 0s
verification:
  healthChecks:
    - name: service
      http: "http://127.0.0.1:{{labels.health-port}}/health"
      expectStatus: 200
      timeout: 5s
      retries: 2
      interval: 100ms
${extra}`;
}

export async function applyPolicy(s: Scenario, yaml: string): Promise<void> {
  await s.admin.post("/api/v1/policies", { content: yaml, file: "scenario-policy.yaml" });
}

/**
 * The change process: upload the .deb, create the change from it, submit it, and have a second
 * person approve it; the engine starts it by itself. Returns the change's id.
 */
export async function approvedChange(
  s: Scenario,
  options: { deb: string; policy: string; selector?: string; justification?: string },
): Promise<string> {
  const artifact = await s.admin.upload(options.deb);
  const change = await s.admin.post<{ id: string }>("/api/v1/changes", {
    package: artifact.package,
    version: artifact.version,
    artifact: { name: artifact.fileName, sha256: artifact.sha256 },
    selector: options.selector ?? "",
    policy: options.policy,
    justification: options.justification ?? "scenario",
  });
  await s.admin.post(`/api/v1/changes/${change.id}/submit`, { reason: "scenario" });
  await s.approver.post(`/api/v1/changes/${change.id}/approve`, { reason: "scenario" });
  return change.id;
}

/** Waits for the change's rollout to exist and returns its id. */
export async function rolloutOf(
  s: Scenario,
  changeId: string,
  timeoutMs = ROLLOUT_CREATED_MS,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const change = await s.admin.get<{ rolloutId?: string | null; state: string }>(
      `/api/v1/changes/${changeId}`,
    );
    if (change.rolloutId) return change.rolloutId;
    if (Date.now() > deadline) throw new Error(`change ${changeId} has no rollout (state ${change.state})`);
    await sleep(50);
  }
}

export function showRollout(s: Pick<Scenario, "admin">, id: string): Promise<RolloutShow> {
  return s.admin.get<RolloutShow>(`/api/v1/rollouts/${id}`);
}

/** Polls `rollout show` until `until` holds; returns the last view. */
export async function waitRollout(
  s: Pick<Scenario, "admin">,
  id: string,
  until: (r: RolloutShow) => boolean,
  timeoutMs = 60_000,
): Promise<RolloutShow> {
  const deadline = Date.now() + timeoutMs;
  let last: RolloutShow | null = null;
  for (;;) {
    try {
      last = await showRollout(s, id);
      if (until(last)) return last;
    } catch (err) {
      // A server being restarted does not answer for a moment.
      if (err instanceof HttpError) throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`rollout ${id} did not get there in time; last: ${JSON.stringify(last)}`);
    }
    await sleep(100);
  }
}

export const ended = (r: RolloutShow): boolean => TERMINAL.includes(r.state);

export async function auditVerifies(s: Pick<Scenario, "admin">): Promise<{ ok: boolean; checked: number }> {
  return s.admin.get<{ ok: boolean; checked: number }>("/api/v1/audit/verify");
}

/** The rollout's operations with their outcomes: printed when a scenario fails, to say why. */
export async function describeOperations(s: Pick<Scenario, "store">, rolloutId: string): Promise<string> {
  const rows = await s.store.db
    .selectFrom("operations")
    .innerJoin("assets", "assets.id", "operations.asset_id")
    .select([
      "assets.name as asset",
      "operations.action as action",
      "operations.attempt as attempt",
      "operations.state as state",
      "operations.error as error",
      "operations.result as result",
    ])
    .where("operations.rollout_id", "=", rolloutId)
    .orderBy("operations.created_at")
    .execute();
  return rows
    .map((r) => `${r.asset} ${r.action}#${r.attempt} ${r.state} ${r.error ?? ""} ${r.result ?? ""}`)
    .join("\n");
}
