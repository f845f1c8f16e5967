import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runAgent } from "../src/agent/agent.js";
import { JOURNAL_FILE } from "../src/agent/operations/journal.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import { createDpkgRoot, type DpkgRoot } from "../src/localfleet/dpkg-root.js";
import { CLI_PATH } from "../src/localfleet/fleet.js";
import { operationKey } from "../src/rollout/model.js";
import { operationIdFor } from "../src/rollout/operation.js";
import { createLogger } from "../src/service/logger.js";
import { type HostService, startHostService } from "../src/testfleet/host-service.js";
import {
  buildFleetPackages,
  FLEET_PACKAGE,
  type FleetPackages,
  INSTALL_LOG,
  installLogPath,
} from "../src/testfleet/packages.js";
import {
  type StandInOperation,
  type StandInServer,
  startStandInServer,
} from "./helpers/stand-in-agent-server.js";
import { dpkgQuery } from "./rollout-scenarios/invariants.js";

let work: string;
let packages: FleetPackages;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-agent-ops-"));
  packages = await buildFleetPackages(join(work, "packages"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Host {
  root: DpkgRoot;
  stateDir: string;
  service: HostService;
  healthChecks: Array<Record<string, unknown>>;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/**
 * The steps an operation reported, in order, are among `steps`: a quick operation reports none (its
 * result carries the outcome and the engine walks the asset through them); one that runs longer than
 * the progress delay reports where it is.
 */
function expectStepsWithin(server: StandInServer, id: string, steps: readonly string[]): void {
  const sent = server.progress.filter((p) => p.id === id).map((p) => p.step);
  expect(steps.filter((s) => sent.includes(s))).toEqual(sent);
}

async function newHost(): Promise<Host> {
  n += 1;
  const root = await createDpkgRoot(join(work, `host-${n}`));
  await root.install([packages.base]);
  const service = await startHostService(root.root, { seed: n });
  closers.push(() => service.close());
  return {
    root,
    stateDir: join(work, `agent-${n}`),
    service,
    healthChecks: [
      {
        name: "service",
        http: service.healthUrl,
        expectStatus: 200,
        expectExit: 0,
        timeoutMs: 1000,
        retries: 1,
        intervalMs: 100,
      },
    ],
  };
}

async function standIn(
  options: { sendServerKey?: boolean; pollHeartbeats?: boolean; heartbeatIntervalMs?: number } = {},
): Promise<StandInServer> {
  const server = await startStandInServer(options);
  closers.push(() => server.close());
  return server;
}

/** Runs the agent in this process until the test ends. */
function startAgent(server: StandInServer, host: Host): void {
  const controller = new AbortController();
  const done = runAgent({
    server: server.url,
    enrollToken: "ape_standin",
    name: `host-${n}`,
    stateDir: host.stateDir,
    dpkgRoot: host.root.root,
    logger: createLogger({ level: "silent" }),
    signal: controller.signal,
    changePollMs: 200,
  });
  closers.push(async () => {
    controller.abort();
    await done;
  });
}

function operation(
  action: StandInOperation["action"],
  payload: Record<string, unknown>,
  attempt = 1,
): StandInOperation {
  const key = operationKey("chg-1", `asset-${n}`, action, attempt);
  return { id: operationIdFor(key), key, action, payload };
}

async function installLines(host: Host, version?: string): Promise<string[]> {
  const text = await readFile(installLogPath(host.root.root), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "" && (version === undefined || l.includes(` ${version} `)));
}

async function patchOf(server: StandInServer, host: Host, deb: string, version: string, attempt = 1) {
  const artifact = await server.addArtifact(deb, { package: FLEET_PACKAGE, version });
  return operation(
    "patch",
    { artifact, package: FLEET_PACKAGE, toVersion: version, healthChecks: host.healthChecks },
    attempt,
  );
}

describe("the agent's operation loop", () => {
  it("patches: snapshot, signed download, dpkg install, version read back, health checks; replays a re-issued key", async () => {
    const server = await standIn();
    const host = await newHost();
    startAgent(server, host);
    const op = await patchOf(server, host, packages.good, packages.versions.good);
    server.queue(op);
    const result = await server.resultOf(op.id);

    expect(result).toMatchObject({ ok: true, installedVersion: packages.versions.good, replayed: false });
    expect(result.checks).toMatchObject([{ name: "service", ok: true, tries: 1 }]);
    expect(result.snapshot?.packages).toMatchObject([{ name: FLEET_PACKAGE, version: packages.baseVersion }]);
    expectStepsWithin(server, op.id, ["snapshotting", "applying", "verifying"]);
    expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.versions.good);
    expect(await installLines(host, packages.versions.good)).toHaveLength(1);
    // Every request spoke protocol 2, the journal is private, the download was cleaned up.
    expect(new Set(server.protocolHeaders)).toEqual(new Set(["2"]));
    expect((await stat(join(host.stateDir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
    const agentJson = JSON.parse(await readFile(join(host.stateDir, "agent.json"), "utf8")) as Record<
      string,
      string
    >;
    expect(agentJson.serverPublicKey).toMatch(/BEGIN PUBLIC KEY/);

    // The same key again (the server lost the answer): the journal answers, nothing is installed again.
    server.queue(op);
    await sleep(50);
    const again = await waitForResults(server, op.id, 2);
    expect(again).toMatchObject({ ok: true, installedVersion: packages.versions.good, replayed: true });
    expect(again.startedAt).toBe(result.startedAt);
    expect(await installLines(host, packages.versions.good)).toHaveLength(1);
  });

  it("reports failed health after a bad patch, then a revert restores the snapshot and verifies it", async () => {
    const server = await standIn();
    const host = await newHost();
    startAgent(server, host);
    const patch = await patchOf(server, host, packages.badHealth, packages.versions.badHealth);
    server.queue(patch);
    const result = await server.resultOf(patch.id);
    expect(result).toMatchObject({ ok: false, installedVersion: packages.versions.badHealth });
    expect(result.checks).toMatchObject([{ name: "service", ok: false, tries: 2 }]);
    expect(result.error).toMatch(/health check failed: service \(HTTP 503/);

    const revert = operation("revert", {
      package: FLEET_PACKAGE,
      snapshot: result.snapshot,
      healthChecks: host.healthChecks,
    });
    server.queue(revert);
    const reverted = await server.resultOf(revert.id);
    expect(reverted).toMatchObject({ ok: true, installedVersion: packages.baseVersion });
    expect(reverted.checks).toMatchObject([{ ok: true }]);
    expectStepsWithin(server, revert.id, ["reverting"]);
    expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.baseVersion);
    const log = await installLines(host);
    expect(log.at(-1)).toMatch(
      new RegExp(`^postinst configure ${packages.baseVersion} from=${packages.versions.badHealth} `),
    );
  });

  it("skips its heartbeats while the server counts its polls' answers as such, and heartbeats when it does not", async () => {
    // Two seconds: a poll (answered within 300 ms) stands for the heartbeat for 1.5 s, and the one
    // heartbeat sent anyway every four intervals falls after the polls watched here.
    const intervalMs = 2000;
    const counting = await standIn({ pollHeartbeats: true, heartbeatIntervalMs: intervalMs });
    const plain = await standIn();
    startAgent(counting, await newHost());
    startAgent(plain, await newHost());
    // The agent has read two poll answers that stood for heartbeats. The first heartbeat goes out at
    // start; a second one may have gone out too, when an interval passed before the first answer came
    // (a loaded host): nothing stood for it yet.
    await counting.until(() => counting.polls >= 3);
    const before = counting.heartbeats;
    expect(before).toBeGreaterThanOrEqual(1);
    expect(before).toBeLessThanOrEqual(2);
    // Then ten polls, each held 300 ms: past the next heartbeat's time and short of the fourth
    // interval, without a heartbeat; meanwhile the other agent heartbeats every second (the stand-in's
    // default), as ever.
    const watched = counting.polls + 10;
    const [after] = await Promise.all([
      counting.until(() => counting.polls >= watched).then(() => counting.heartbeats),
      plain.until(() => plain.heartbeats >= 3),
    ]);
    expect(after).toBe(before);
  });

  it("verify operations run the checks only", async () => {
    const server = await standIn();
    const host = await newHost();
    startAgent(server, host);
    const op = operation("verify", { package: FLEET_PACKAGE, healthChecks: host.healthChecks });
    server.queue(op);
    const result = await server.resultOf(op.id);
    expect(result).toMatchObject({ ok: true, installedVersion: packages.baseVersion });
    expect(server.progress).toEqual([]);
    expect(await installLines(host)).toHaveLength(1);
  });

  it.each([
    [
      "signed by another key",
      { signWith: generateKeyPairSync("ed25519").privateKey },
      /not signed by the server key/,
    ],
    ["with other bytes than its digest names", "corrupt", /with sha256 [0-9a-f]{64}, not/],
  ])("refuses an artifact %s and installs nothing", async (_name, how, error) => {
    const server = await standIn();
    const host = await newHost();
    startAgent(server, host);
    const artifactOptions =
      how === "corrupt"
        ? { serveBytes: await readFile(packages.badHealth) }
        : { signWith: generateKeyPairSync("ed25519").privateKey };
    const artifact = await server.addArtifact(
      packages.good,
      { package: FLEET_PACKAGE, version: packages.versions.good },
      artifactOptions,
    );
    const op = operation("patch", { artifact, package: FLEET_PACKAGE, toVersion: packages.versions.good });
    server.queue(op);
    const result = await server.resultOf(op.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(error);
    expect(result.snapshot).toBeUndefined();
    expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.baseVersion);
    expect(await installLines(host)).toHaveLength(1);
  });

  it("refuses to install without a server key pinned at enrollment", async () => {
    const server = await standIn({ sendServerKey: false });
    const host = await newHost();
    startAgent(server, host);
    const op = await patchOf(server, host, packages.good, packages.versions.good);
    server.queue(op);
    const result = await server.resultOf(op.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/no pinned server key/);
    expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.baseVersion);
  });

  it("fails the patch before installing when no snapshot can be taken", async () => {
    const server = await standIn();
    const host = await newHost();
    // dpkg left the package half-configured: it cannot be rebuilt, and the server offers no copy.
    const status = join(host.root.admindir, "status");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      status,
      (await readFile(status, "utf8")).replace("install ok installed", "install ok half-configured"),
    );
    startAgent(server, host);
    const op = await patchOf(server, host, packages.good, packages.versions.good);
    server.queue(op);
    const result = await server.resultOf(op.id);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/no snapshot, so nothing was installed/);
    expect(await installLines(host, packages.versions.good)).toHaveLength(0);
    expectStepsWithin(server, op.id, ["snapshotting"]);
  });

  it.each([
    [
      "dpkg-repack",
      false,
      /^no snapshot, so nothing was installed: .*requires dpkg-repack on PATH: apt-get install dpkg-repack/,
    ],
    [
      "dpkg-deb",
      false,
      /^no snapshot, so nothing was installed: .*requires dpkg-deb on PATH: apt-get install dpkg /,
    ],
    [
      "dpkg-deb",
      true,
      /^dpkg could not install fleet-service: requires dpkg-deb on PATH: apt-get install dpkg /,
    ],
  ])(
    "fails the patch, naming a missing %s and how to install it (store copy: %s), before installing",
    async (tool, storeCopy, error) => {
      const server = await standIn();
      const host = await newHost();
      // PATH as the host's own, less the one tool.
      const bin = join(work, `path-without-${tool}-${n}`);
      await mkdir(bin);
      for (const dir of ["/usr/bin", "/usr/sbin"]) {
        for (const name of await readdir(dir)) {
          if (name !== tool) await symlink(join(dir, name), join(bin, name)).catch(() => {});
        }
      }
      const path = process.env.PATH;
      process.env.PATH = bin;
      closers.push(async () => {
        process.env.PATH = path;
      });
      startAgent(server, host);
      const op = await patchOf(server, host, packages.good, packages.versions.good);
      if (storeCopy) {
        const copy = await server.addArtifact(packages.base, {
          package: FLEET_PACKAGE,
          version: packages.baseVersion,
        });
        op.payload.rollbackArtifacts = [copy];
      }
      server.queue(op);
      const result = await server.resultOf(op.id);
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(error);
      expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.baseVersion);
      expect(await installLines(host)).toHaveLength(1);
    },
  );
});

async function waitForResults(server: StandInServer, id: string, count: number) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const results = server.results.filter((r) => r.id === id);
    const last = results[count - 1];
    if (last) return last.result;
    if (Date.now() > deadline) throw new Error(`only ${results.length} result(s) for ${id}`);
    await sleep(50);
  }
}

describe("an agent killed with SIGKILL during an install", () => {
  const SLOW_VERSION = "1.1.5-1";

  async function slowDeb(): Promise<string> {
    // A package whose maintainer script takes a while, so the agent can be killed while dpkg runs.
    return buildDeb(
      {
        name: FLEET_PACKAGE,
        version: SLOW_VERSION,
        files: { "/usr/share/fleet-service/behaviour": "healthy\n" },
        postinst: [
          "sleep 2",
          `echo "postinst $1 ${SLOW_VERSION} from=\${2:-none} at=$(date +%s%N)" >> "$DPKG_ROOT${INSTALL_LOG}"`,
        ].join("\n"),
      },
      join(work, "slow"),
    );
  }

  /** Waits until dpkg is at work on the host (the package is no longer fully installed), inside the maintainer script. */
  async function waitForInstall(host: Host): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { status } = await dpkgQuery(host.root.root);
      if (status !== null && status !== "ii ") break;
      if (Date.now() > deadline) throw new Error("the agent never began the install");
      await sleep(20);
    }
    await sleep(500);
  }

  function spawnAgentProcess(server: StandInServer, host: Host, detached = false): ChildProcess {
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        "agent",
        "--server",
        server.url,
        "--enroll-token",
        "ape_standin",
        "--name",
        "slow-host",
        "--state-dir",
        host.stateDir,
        "--dpkg-root",
        host.root.root,
      ],
      {
        stdio: ["ignore", "ignore", "ignore"],
        env: { ...process.env, AUTOPATCH_LOG_LEVEL: "warn" },
        detached,
      },
    );
    closers.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await new Promise((resolve) => child.once("exit", resolve));
      }
    });
    return child;
  }

  it("never installs twice for one key: the restarted agent re-examines the host", async () => {
    const server = await standIn();
    const host = await newHost();
    const slow = await slowDeb();
    const op = await patchOf(server, host, slow, SLOW_VERSION);
    server.queue(op);

    const first = spawnAgentProcess(server, host);
    await waitForInstall(host);
    // Only the agent dies: dpkg, its child, goes on and finishes the install.
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    expect(server.results).toEqual([]);

    // The server re-issues the same operation (its lease ran out without a result).
    spawnAgentProcess(server, host);
    const result = await server.resultOf(op.id, 40_000);
    expect(server.leases.get(op.id)).toBe(2);
    expect(result.replayed).toBe(false);
    expect(result.snapshot?.packages).toMatchObject([{ name: FLEET_PACKAGE, version: packages.baseVersion }]);
    // Exactly one install ran, the one the killed agent started; the restarted one ran none.
    expect(await installLines(host, SLOW_VERSION)).toHaveLength(1);
    expect(result).toMatchObject({ ok: true, installedVersion: SLOW_VERSION });
  }, 60_000);

  it("reports an install that died with the agent as failed, without retrying it, and a revert brings the host back", async () => {
    const server = await standIn();
    const host = await newHost();
    const op = await patchOf(server, host, await slowDeb(), SLOW_VERSION);
    server.queue(op);
    const first = spawnAgentProcess(server, host, true);
    await waitForInstall(host);
    // The whole process group dies (as systemd stops a service): dpkg is killed mid-configure.
    process.kill(-(first.pid as number), "SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));

    spawnAgentProcess(server, host);
    const result = await server.resultOf(op.id, 40_000);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/stopped during this install .* does not install twice/);
    expect(result.installedVersion).toBeNull();
    expect(await installLines(host, SLOW_VERSION)).toHaveLength(0);

    const revert = operation("revert", {
      package: FLEET_PACKAGE,
      snapshot: result.snapshot,
      healthChecks: host.healthChecks,
    });
    server.queue(revert);
    const reverted = await server.resultOf(revert.id, 40_000);
    expect(reverted).toMatchObject({ ok: true, installedVersion: packages.baseVersion });
    expect(await host.root.installedVersion(FLEET_PACKAGE)).toBe(packages.baseVersion);
  }, 60_000);
});
