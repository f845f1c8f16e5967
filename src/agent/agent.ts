import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { ApiClient } from "../client/api-client.js";
import { AppError, ValidationError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { dpkgStateFingerprint, listDpkgPackages } from "./dpkg-query.js";
import { runOperationLoop } from "./operations/loop.js";
import { distroQualifier, osvEcosystemFor, readOsRelease } from "./os-release.js";
import {
  AGENT_PROTOCOL_VERSION,
  type EnrollRequest,
  type EnrollResponse,
  type HeartbeatResponse,
} from "./protocol.js";

export const AGENT_VERSION = "0.2.0";

export interface AgentOptions {
  server: string;
  /** Needed only until the agent has enrolled and saved its credential. */
  enrollToken?: string;
  name?: string;
  stateDir: string;
  /** A private root holding a dpkg database (…/var/lib/dpkg); the system's own when absent. */
  dpkgRoot?: string;
  placement?: Omit<EnrollRequest, "name" | "hostname">;
  logger: Logger;
  signal?: AbortSignal;
  /** How often to look for package changes between heartbeats. */
  changePollMs?: number;
}

interface AgentState {
  server: string;
  assetId: string;
  assetName: string;
  credential: string;
  /** The server's ed25519 public key (PEM), pinned at enrollment: artifacts must carry its signature. */
  serverPublicKey?: string;
}

/** The header every agent request carries, so the server can refuse a protocol it does not speak. */
export const AGENT_PROTOCOL_HEADER = "x-autopatch-agent-protocol";

function agentClient(server: string, token: string): ApiClient {
  return new ApiClient(server, token, 60_000, {
    headers: { [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION) },
  });
}

/** Servers before the rollout engine do not send their key; such an agent reports but never installs. */
type EnrollReply = EnrollResponse & { serverPublicKey?: string };

const STATE_FILE = "agent.json";

async function loadState(stateDir: string): Promise<AgentState | null> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATE_FILE), "utf8")) as AgentState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ValidationError(`cannot read the agent state: ${(err as Error).message}`, {
      where: join(stateDir, STATE_FILE),
    });
  }
}

/** The credential is a secret: written with mode 0600, atomically, so a crash never leaves half a file. */
async function saveState(stateDir: string, state: AgentState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = join(stateDir, `${STATE_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, join(stateDir, STATE_FILE));
}

/**
 * The host agent: enrolls once, then heartbeats and reports its installed packages on start and
 * whenever the dpkg database changes. Network failures are retried with backoff; it runs until the
 * signal aborts.
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  const log = options.logger;
  const state = await ensureEnrolled(options);
  const client = agentClient(state.server, state.credential);
  const admindir = options.dpkgRoot ? join(options.dpkgRoot, "var/lib/dpkg") : "/var/lib/dpkg";
  const os = await readOsRelease(options.dpkgRoot ?? "/");
  const ecosystem = osvEcosystemFor(os);
  const distro = distroQualifier(os);
  const pollMs = options.changePollMs ?? 2000;
  log.info({ asset: state.assetName, admindir, ecosystem }, "agent started");
  if (!state.serverPublicKey) {
    log.warn(
      { asset: state.assetName },
      "no server key is pinned: this agent refuses every install until it enrolls again",
    );
  }

  // Operations run beside the heartbeats, which must go on during an install: a host that stops
  // heartbeating while it holds an operation is taken for lost. A fatal error in either stops both.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  // The heartbeat interval the server asks for, once known: the operation loop retries at least as often.
  let retryCapMs = 30_000;
  const operations = runOperationLoop({
    client,
    stateDir: options.stateDir,
    root: options.dpkgRoot ?? "/",
    serverPublicKey: state.serverPublicKey,
    logger: log,
    signal,
    retryCapMs: () => retryCapMs,
  }).then(
    () => null,
    // Caught at once (an unhandled rejection would end the process before the heartbeats stop).
    (err: unknown) => {
      stop.abort();
      return { err };
    },
  );
  try {
    await heartbeatLoop();
  } finally {
    stop.abort();
  }
  const failed = await operations;
  if (failed) throw failed.err;
  log.info({ asset: state.assetName }, "agent stopped");

  async function heartbeatLoop(): Promise<void> {
    let reportedFingerprint: string | null = null;
    let refusedFingerprint: string | null = null;
    let intervalMs = 30_000;
    let nextHeartbeat = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const fingerprint = await dpkgStateFingerprint(admindir);
        let inventoryWanted = false;
        if (Date.now() >= nextHeartbeat) {
          const beat = await client.post<HeartbeatResponse>("/api/v1/agent/heartbeat", {
            agentVersion: AGENT_VERSION,
            packagesFingerprint: fingerprint,
          });
          intervalMs = beat.heartbeatIntervalMs;
          retryCapMs = intervalMs;
          inventoryWanted = beat.inventoryWanted;
          nextHeartbeat = Date.now() + intervalMs;
        }
        if (fingerprint !== reportedFingerprint || (inventoryWanted && fingerprint !== refusedFingerprint)) {
          const packages: PackageRecord[] = await listDpkgPackages({ admindir, ecosystem, distro });
          try {
            const summary = await client.put<{ added: number; removed: number; changed: number }>(
              "/api/v1/agent/inventory",
              {
                packages,
                packagesFingerprint: fingerprint,
              },
            );
            refusedFingerprint = null;
            log.info({ asset: state.assetName, packages: packages.length, ...summary }, "inventory reported");
          } catch (err) {
            if (!isRefusal(err)) throw err;
            // The server refused this report (4xx): sending it again would be refused again. Wait for
            // the package database to change, and keep heartbeating meanwhile.
            refusedFingerprint = fingerprint;
            log.error(
              { asset: state.assetName, packages: packages.length, err: err.message, where: err.where },
              "the server refused the inventory report; it is sent again when the package database changes",
            );
          }
          reportedFingerprint = fingerprint;
        }
        failures = 0;
      } catch (err) {
        if (err instanceof AppError && err.code === "unauthenticated") {
          throw new AppError(
            "unauthenticated",
            `the server refused this agent's credential (${err.message}); enroll again with a new token`,
          );
        }
        failures += 1;
        log.warn({ err: (err as Error).message, failures }, "agent cycle failed; retrying");
        nextHeartbeat = 0;
      }
      const backoff = failures === 0 ? pollMs : Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
      await sleep(Math.min(backoff, intervalMs), undefined, { signal }).catch(() => undefined);
    }
  }
}

/** A 4xx other than a refused credential: the request itself is wrong, and retrying cannot help. */
function isRefusal(err: unknown): err is AppError {
  return err instanceof AppError && err.status >= 400 && err.status < 500 && err.code !== "unauthenticated";
}

async function ensureEnrolled(options: AgentOptions): Promise<AgentState> {
  const saved = await loadState(options.stateDir);
  if (saved && saved.server.replace(/\/+$/, "") === options.server.replace(/\/+$/, "")) return saved;
  if (!options.enrollToken) {
    throw new ValidationError(
      "this agent has not enrolled yet: pass --enroll-token (create one with `autopatch agent-token create`)",
      {
        where: "--enroll-token",
      },
    );
  }
  const name = options.name ?? hostname();
  const client = agentClient(options.server, options.enrollToken);
  const request: EnrollRequest = { name, hostname: hostname(), ...options.placement };
  let failures = 0;
  for (;;) {
    try {
      const enrolled = await client.post<EnrollReply>("/api/v1/agent/enroll", request);
      const state: AgentState = {
        server: options.server,
        assetId: enrolled.assetId,
        assetName: enrolled.assetName,
        credential: enrolled.credential,
        ...(enrolled.serverPublicKey ? { serverPublicKey: enrolled.serverPublicKey } : {}),
      };
      await saveState(options.stateDir, state);
      options.logger.info({ asset: state.assetName }, "agent enrolled");
      return state;
    } catch (err) {
      // A refused token will not start working; an unreachable server may.
      if (err instanceof AppError && err.code !== "internal") throw err;
      failures += 1;
      options.logger.warn({ err: (err as Error).message, failures }, "enrollment failed; retrying");
      if (options.signal?.aborted) throw err;
      await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), undefined, {
        signal: options.signal,
      }).catch(() => undefined);
    }
  }
}
