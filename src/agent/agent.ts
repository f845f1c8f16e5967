import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { ApiClient } from "../client/api-client.js";
import { AGENT_BACKOFF, backoffFor, retry } from "../domain/backoff.js";
import { AppError, ValidationError } from "../domain/errors.js";
import type { PackageRecord } from "../domain/inventory.js";
import { type CanonicalPackage, canonicalPackageSet, packageSetDigest } from "../domain/package-set.js";
import { lacksRelease, releaseProblem } from "../inventory/distro-releases.js";
import { dpkgStateFingerprint, listDpkgPackages } from "./dpkg-query.js";
import { LONG_POLL_WAIT_MS, runOperationLoop } from "./operations/loop.js";
import { distroQualifier, osvEcosystemFor, readOsRelease } from "./os-release.js";
import {
  AGENT_PROTOCOL_HEADER,
  AGENT_PROTOCOL_VERSION,
  type EnrollRequest,
  type EnrollResponse,
  type HeartbeatResponse,
  type InventoryDeltaReport,
} from "./protocol.js";

export const AGENT_VERSION = "0.2.0";

/** Heartbeats skipped for polls the server counted as such: at most this many intervals in a row. */
const HEARTBEAT_AT_LEAST_EVERY = 4;

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

function agentClient(server: string, token: string): ApiClient {
  return new ApiClient(server, token, 60_000, {
    headers: { [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION) },
  });
}

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
  warnAboutRelease(log, ecosystem, options.dpkgRoot ?? "/");

  // The inventory's state, shared by the heartbeats and the operation loop (which sends it before each
  // result); `syncInventory` queues the two, so that they never send against the same base at once.
  let reportedFingerprint: string | null = null;
  // The set the server acknowledged last: later reports send only the changes since it.
  let acked: AckedSet | null = null;
  let refusedFingerprint: string | null = null;
  let inventoryChain: Promise<void> = Promise.resolve();

  // Operations run beside the heartbeats, which must go on during an install: a host that stops
  // heartbeating while it holds an operation is taken for lost. A fatal error in either stops both.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  // The heartbeat interval the server asks for, once known: the operation loop retries at least as often.
  let retryCapMs = 30_000;
  // When the server last counted a long-poll's answer as this agent's heartbeat.
  let lastPollHeartbeat = Number.NEGATIVE_INFINITY;
  // An operation is running: its result carries the inventory's changes, so the heartbeats do not
  // send them on their own (a second report of the same install, and a base the result then misses).
  let busy = false;
  // The heartbeat loop's waits, ended early when the agent stops.
  const wakers = new Set<() => void>();
  signal.addEventListener(
    "abort",
    () => {
      for (const wake of wakers) wake();
    },
    { once: true },
  );
  const operations = runOperationLoop({
    client,
    stateDir: options.stateDir,
    root: options.dpkgRoot ?? "/",
    serverPublicKey: state.serverPublicKey,
    logger: log,
    signal,
    retryCapMs: () => retryCapMs,
    // Answered within two thirds of an interval, a poll comes back before the last one stops
    // standing for the heartbeat (three quarters of one): an idle agent then sends no heartbeats
    // of its own but the one every HEARTBEAT_AT_LEAST_EVERY intervals.
    pollWaitMs: () => Math.min(LONG_POLL_WAIT_MS, Math.floor((retryCapMs * 2) / 3)),
    syncInventory: () => syncInventory(null, false),
    sendWithInventory,
    onBusy: (running) => {
      busy = running;
    },
    onPollHeartbeat: () => {
      lastPollHeartbeat = Date.now();
    },
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

  function syncInventory(fingerprint: string | null, wanted: boolean): Promise<void> {
    const run = inventoryChain.then(() => sendIfChanged(fingerprint, wanted));
    inventoryChain = run.catch(() => undefined);
    return run;
  }
  async function sendIfChanged(known: string | null, wanted: boolean): Promise<void> {
    const fingerprint = known ?? dpkgStateFingerprint(admindir);
    if (fingerprint !== reportedFingerprint || (wanted && fingerprint !== refusedFingerprint)) {
      const packages: PackageRecord[] = await listDpkgPackages({ admindir, ecosystem, distro });
      try {
        // The server asked for the whole set (its digest differs), or there is no acknowledged base.
        const base = wanted ? null : acked;
        const sent = await sendInventory(client, packages, fingerprint, base);
        acked = sent.acked;
        const summary = sent.summary;
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
  }

  /**
   * Sends a result with the changes since the acknowledged set riding on it (`post` puts the delta in
   * the result's body), queued like the other inventory sends so that nothing else sends against the
   * same base meanwhile. Resolves true when the server has both; false when nothing could ride along
   * (no acknowledged base); rejects when the request failed, and then the caller sends the inventory
   * on its own and the result after it.
   */
  function sendWithInventory(
    post: (inventory: InventoryDeltaReport | undefined) => Promise<{ inventory?: Summary }>,
  ): Promise<boolean> {
    const run = inventoryChain.then(async () => {
      if (acked === null) return false;
      const base = acked;
      const fingerprint = dpkgStateFingerprint(admindir);
      if (fingerprint === reportedFingerprint) {
        await post(undefined);
        return true;
      }
      const packages = await listDpkgPackages({ admindir, ecosystem, distro });
      const { delta, set } = deltaSince(base, packages);
      const answer = await post(delta);
      if (answer.inventory === undefined) return true; // the result is in; the heartbeats send the inventory
      acked = { digest: answer.inventory.digest ?? delta.digest, set };
      reportedFingerprint = fingerprint;
      refusedFingerprint = null;
      log.info(
        { asset: state.assetName, packages: packages.length, ...answer.inventory },
        "inventory reported with the result",
      );
      return true;
    });
    inventoryChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Waits `ms`, or less when the agent stops: one timer, and one abort listener for the agent's whole
   * run rather than one per wait (timers/promises adds and removes one on every call).
   */
  function nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  async function heartbeatLoop(): Promise<void> {
    let intervalMs = 30_000;
    let nextHeartbeat = 0;
    let lastHeartbeat = Number.NEGATIVE_INFINITY;
    let failures = 0;
    while (!signal.aborted) {
      try {
        let inventoryWanted = false;
        // A poll the server answered lately stood for the heartbeat; one still goes out now and then,
        // for the inventory digest check it carries.
        // The server recorded that sign of life at most a quarter interval before its answer, so for
        // three quarters of an interval after it the server's last seen is at most one interval old,
        // as with heartbeats alone; the polls are answered sooner than that (pollWaitMs).
        const polled =
          Date.now() - lastPollHeartbeat < (intervalMs * 3) / 4 &&
          Date.now() - lastHeartbeat < HEARTBEAT_AT_LEAST_EVERY * intervalMs;
        const due = Date.now() >= nextHeartbeat && !polled;
        // Nothing to send while an operation runs and no heartbeat is due: not even the look at dpkg.
        if (busy && !due) {
          await nap(untilNextHeartbeat(Math.min(pollMs, intervalMs)));
          continue;
        }
        const fingerprint = dpkgStateFingerprint(admindir);
        if (due) {
          const sentAt = Date.now();
          const beat = await client.post<HeartbeatResponse>("/api/v1/agent/heartbeat", {
            agentVersion: AGENT_VERSION,
            packagesFingerprint: fingerprint,
            ...(acked === null ? {} : { packagesDigest: acked.digest }),
          });
          intervalMs = beat.heartbeatIntervalMs;
          retryCapMs = intervalMs;
          inventoryWanted = beat.inventoryWanted;
          // One interval from when this one was sent, not from its answer: the server takes a host
          // for silent after two intervals, and while an operation runs (no polls stand for the
          // beats) a slow answer, on a loaded server or host, must not eat into that margin each time.
          nextHeartbeat = sentAt + intervalMs;
          lastHeartbeat = Date.now();
        }
        // The database as last reported and nothing asked for: no send to queue (the look every few
        // seconds of an idle host ends here).
        const unchanged = fingerprint === reportedFingerprint && !inventoryWanted;
        if ((!busy || inventoryWanted) && !unchanged) await syncInventory(fingerprint, inventoryWanted);
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
      const backoff = failures === 0 ? pollMs : backoffFor(failures, AGENT_BACKOFF);
      await nap(untilNextHeartbeat(Math.min(backoff, intervalMs)));
    }

    /**
     * While an operation runs (no polls stand for the heartbeats then): `ms`, or less when the next
     * heartbeat falls due sooner, until then. Otherwise, or when one is due already (a failed cycle's
     * nextHeartbeat is 0), `ms` as it is.
     */
    function untilNextHeartbeat(ms: number): number {
      const left = nextHeartbeat - Date.now();
      return busy && left > 0 ? Math.min(ms, left) : ms;
    }
  }
}

/** Packages without a known release match no release's advisories: say so where the operator looks. */
function warnAboutRelease(log: Logger, ecosystem: string, root: string): void {
  if (lacksRelease(ecosystem)) {
    log.warn(
      { ecosystem, root },
      "no os-release naming a Debian or Ubuntu release under the root: packages are reported without a " +
        "release, and only advisories without a release apply to them",
    );
    return;
  }
  const problem = releaseProblem(ecosystem);
  if (problem !== null) log.warn({ ecosystem, root }, `os-release names an unknown release: ${problem}`);
}

interface AckedSet {
  digest: string;
  set: Map<string, CanonicalPackage>;
}

interface Summary {
  added: number;
  removed: number;
  changed: number;
  digest?: string;
}

/**
 * Sends the changes since the acknowledged set when there is one (a full report when the server refuses
 * the delta with 409: its set is not that base), else the whole set.
 */
async function sendInventory(
  client: ApiClient,
  packages: PackageRecord[],
  fingerprint: string,
  base: AckedSet | null,
): Promise<{ summary: Summary; acked: AckedSet }> {
  if (base !== null) {
    const { delta, set } = deltaSince(base, packages);
    try {
      const summary = await client.patch<Summary>("/api/v1/agent/inventory", delta);
      return { summary, acked: { digest: summary.digest ?? delta.digest, set } };
    } catch (err) {
      if (!(err instanceof AppError && err.status === 409)) throw err;
    }
  }
  const set = canonicalPackageSet(packages);
  const summary = await client.put<Summary>("/api/v1/agent/inventory", {
    packages,
    packagesFingerprint: fingerprint,
  });
  return { summary, acked: { digest: summary.digest ?? packageSetDigest(set.values()), set } };
}

/** The changes from the acknowledged set to `packages` (a delta report's body), and the new set. */
function deltaSince(
  base: AckedSet,
  packages: PackageRecord[],
): { delta: InventoryDeltaReport; set: Map<string, CanonicalPackage> } {
  const set = canonicalPackageSet(packages);
  const added = [...set].filter(
    ([k, p]) => base.set.get(k)?.purl !== p.purl || !sameSource(base.set.get(k), p),
  );
  const removed = [...base.set].filter(([k]) => !set.has(k)).map(([, p]) => p);
  return {
    set,
    delta: {
      base: base.digest,
      digest: packageSetDigest(set.values()),
      added: added.map(([, p]) => p),
      removed: removed.map((p) => ({
        ecosystem: p.ecosystem,
        name: p.name,
        version: p.version,
        arch: p.arch,
      })),
    },
  };
}

function sameSource(a: CanonicalPackage | undefined, b: CanonicalPackage): boolean {
  return a !== undefined && a.sourceName === b.sourceName && a.sourceVersion === b.sourceVersion;
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
  return retry(
    async () => {
      const enrolled = await client.post<EnrollResponse>("/api/v1/agent/enroll", request);
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
    },
    {
      ...AGENT_BACKOFF,
      attempts: Number.POSITIVE_INFINITY,
      // A refused token will not start working; an unreachable server may.
      retryable: (err) => !(err instanceof AppError && err.code !== "internal"),
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (err, failures) =>
        options.logger.warn({ err: (err as Error).message, failures }, "enrollment failed; retrying"),
    },
  );
}
