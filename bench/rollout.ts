/**
 * Rollout benchmark: one change of a small .deb rolled out by autopatch over N local hosts (canary 1,
 * waves 25 % and 75 %, no observation, one HTTP health check per host), against (a) the floor, the
 * same N `dpkg --root … -i` installs run two at a time by xargs, and (b) Ansible installing the same
 * .deb into the same roots (connection local, forks 50, serial [1, 25 %, 75 %]).
 *
 * The server runs in a child process (bench/rollout-server.ts) so its CPU time is measured alone;
 * the agents and their hosts' services run in this process (startTestFleet inProcessAgents). Each of
 * the three installers gets its own copy of the hosts' roots taken before anything is installed, so
 * all three perform the same base → good upgrade.
 */
import childProcess, { execFileSync, fork, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { syncBuiltinESMExports } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import type { ArtifactMeta } from "../src/artifacts/artifact.js";
import { newSecret } from "../src/auth/secrets.js";
import { uploadArtifactFile } from "../src/cli/commands/artifact.js";
import { ApiClient } from "../src/client/api-client.js";
import { dpkgRootArgs } from "../src/dpkg/root-options.js";
import { startTestFleet } from "../src/testfleet/harness.js";
import { FLEET_PACKAGE, installLogPath } from "../src/testfleet/packages.js";
import { spawnerExecFile } from "../src/testfleet/spawner.js";

const { values: flags } = parseArgs({
  options: {
    hosts: { type: "string", default: "500" },
    json: { type: "boolean", default: false },
    "engine-pass": { type: "string", default: "1000" },
    "heartbeat-interval": { type: "string", default: "30000" },
    "max-unavailable": { type: "string", default: "16" },
    /** CPU profiles of the server and of the agents' process from the submit to the end, into this folder. */
    "cpu-prof": { type: "string" },
    /** A file for the server's SQL statements by time (runs and ms of each text). */
    "statement-trace": { type: "string" },
    "skip-ansible": { type: "boolean", default: false },
    "skip-floor": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});

const HOSTS = Number(flags.hosts);
if (!Number.isInteger(HOSTS) || HOSTS < 1) throw new Error("--hosts takes a whole number above 0");
const ENGINE_PASS_MS = Number(flags["engine-pass"]);
const HEARTBEAT_MS = Number(flags["heartbeat-interval"]);
const log = (line: string) => {
  if (!flags.json) process.stderr.write(`${line}\n`);
};

const SERVER_SCRIPT = fileURLToPath(new URL("./rollout-server.ts", import.meta.url));

interface CpuSample {
  label: string;
  atMs: number;
  /** When it was taken, as the audit log's times are written. */
  wallClock: string;
  cpuMs: number;
}

// Child processes this process (the agents') starts, by program, started from a worker thread
// (src/testfleet/spawner.ts): wrapped before any agent runs.
const children = new Map<string, number>();
const spawner = spawnerExecFile(childProcess.execFile);
childProcess.execFile = ((file: string, ...rest: unknown[]) => {
  children.set(basename(file), (children.get(basename(file)) ?? 0) + 1);
  return spawner.execFile(file, ...rest);
}) as typeof childProcess.execFile;
syncBuiltinESMExports();

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Audit events written since `since`, by action. */
function auditCounts(dbPath: string, since: string): Record<string, number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare("SELECT action, count(*) AS n FROM audit_events WHERE at >= ? GROUP BY action ORDER BY n DESC")
      .all(since) as { action: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.action, r.n]));
  } finally {
    db.close();
  }
}

/** The server process: its URL, CPU samples on demand, and a clean stop. */
async function startServerProcess(dir: string, adminToken: string) {
  const execArgv = ["--import", "tsx"];
  const env = flags["statement-trace"] ? { ...process.env, AUTOPATCH_STATEMENT_TRACE: "1" } : process.env;
  const child = fork(
    SERVER_SCRIPT,
    [
      JSON.stringify({
        databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
        adminToken,
        heartbeatIntervalMs: HEARTBEAT_MS,
        enginePassMs: ENGINE_PASS_MS,
      }),
    ],
    { execArgv, env, stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited with status ${code}`)));
    child.on("message", (m: { type: string; url?: string }) => {
      if (m.type === "ready" && m.url) resolve(m.url);
    });
  });
  let nextId = 0;
  const samples: CpuSample[] = [];
  const sample = (label: string) =>
    new Promise<CpuSample>((resolve) => {
      const id = nextId++;
      const atMs = performance.now();
      const wallClock = new Date().toISOString();
      const onMessage = (m: { type: string; id?: number; userUs?: number; systemUs?: number }) => {
        if (m.type !== "cpu" || m.id !== id) return;
        child.off("message", onMessage);
        const s = { label, atMs, wallClock, cpuMs: ((m.userUs ?? 0) + (m.systemUs ?? 0)) / 1000 };
        samples.push(s);
        resolve(s);
      };
      child.on("message", onMessage);
      child.send({ type: "cpu", id });
    });
  const requests = () =>
    new Promise<Record<string, number>>((resolve) => {
      const id = nextId++;
      const onMessage = (m: { type: string; id?: number; counts?: Record<string, number> }) => {
        if (m.type !== "requests" || m.id !== id) return;
        child.off("message", onMessage);
        resolve(m.counts ?? {});
      };
      child.on("message", onMessage);
      child.send({ type: "requests", id });
    });
  const statements = () =>
    new Promise<[string, { runs: number; ms: number }][]>((resolve) => {
      const id = nextId++;
      const onMessage = (m: {
        type: string;
        id?: number;
        stats?: [string, { runs: number; ms: number }][];
      }) => {
        if (m.type !== "statements" || m.id !== id) return;
        child.off("message", onMessage);
        resolve(m.stats ?? []);
      };
      child.on("message", onMessage);
      child.send({ type: "statements", id });
    });
  const profile = (type: "profile-start" | "profile-stop") =>
    new Promise<string>((resolve) => {
      const id = nextId++;
      const onMessage = (m: { type: string; id?: number; profile?: string }) => {
        if (m.type !== type || m.id !== id) return;
        child.off("message", onMessage);
        resolve(m.profile ?? "");
      };
      child.on("message", onMessage);
      child.send({ type, id });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const t = performance.now();
      child.once("exit", (code, signal) => {
        log(`» server stopped in ${((performance.now() - t) / 1000).toFixed(1)} s (${signal ?? code})`);
        resolve();
      });
      child.send({ type: "stop" });
      setTimeout(() => child.kill("SIGKILL"), 20_000).unref();
    });
  return { url, sample, samples, requests, statements, profile, stop };
}

// Every agent and host service of the bench shares one process and two cores: more installs at once
// than that can serve only queue behind each other and push health checks past their timeout.
function policyYaml(): string {
  return `name: bench
description: Rollout benchmark (canary 1, waves 25% and 75%, no observation)
approvals:
  required: 0
rollout:
  phases:
    - canary: 1
    - wave: 25%
    - wave: 75%
  observe: 0s
  notifyBefore: 0s
  maxUnavailable: ${JSON.stringify(flags["max-unavailable"])}
  finalVerification: false
  failureBudget: {perWave: 0, total: 0}
  rollback: automatic
verification:
  healthChecks:
    - name: service
      http: "http://127.0.0.1:{{labels.health-port}}/health"
      expectStatus: 200
      timeout: 2s
      retries: 2
`;
}

interface RolloutProgress {
  changeState: string;
  rolloutState: string | null;
  phase: number | null;
  done: number;
}

/** Reads progress straight from the SQLite file (read-only), so watching costs the server nothing. */
function progressReader(dbPath: string, changeId: string): () => RolloutProgress {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  // One statement per look: the bench looks every 25 ms, in the agents' process, whose CPU it reports.
  const state = db.prepare(
    "SELECT c.state AS change_state, c.rollout_id, r.state AS rollout_state, r.current_phase FROM change_requests c LEFT JOIN rollouts r ON r.id = c.rollout_id WHERE c.id = ?",
  );
  const done = db.prepare("SELECT count(*) AS n FROM rollout_assets WHERE rollout_id = ? AND state = 'done'");
  return () => {
    const c = state.get(changeId) as {
      change_state: string;
      rollout_id: string | null;
      rollout_state: string | null;
      current_phase: number | null;
    };
    // Done assets are counted once the change has ended only.
    const n =
      c.rollout_id !== null && TERMINAL.has(c.change_state) ? (done.get(c.rollout_id) as { n: number }).n : 0;
    return { changeState: c.change_state, rolloutState: c.rollout_state, phase: c.current_phase, done: n };
  };
}

/** The rollout's failed gate and reason, and the first failed operations' errors. */
function whyItFailed(dbPath: string, changeId: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rollout = db
      .prepare(
        "SELECT r.id, r.state_reason, r.failed_gate FROM rollouts r JOIN change_requests c ON c.rollout_id = r.id WHERE c.id = ?",
      )
      .get(changeId) as { id: string; state_reason: string | null; failed_gate: string | null } | undefined;
    if (!rollout) return "no rollout";
    const ops = db
      .prepare(
        "SELECT asset_id, action, state, error FROM operations WHERE rollout_id = ? AND state NOT IN ('succeeded', 'queued', 'leased') LIMIT 5",
      )
      .all(rollout.id);
    return JSON.stringify({ reason: rollout.state_reason, gate: rollout.failed_gate, operations: ops });
  } finally {
    db.close();
  }
}

const TERMINAL = new Set(["completed", "rolled-back", "failed", "aborted", "cancelled"]);

async function runAutopatch(dir: string) {
  const adminToken = newSecret("apt");
  const server = await startServerProcess(dir, adminToken);
  log(`» server at ${server.url}; starting ${HOSTS} hosts (in-process agents) …`);
  const setupStart = performance.now();
  const fleet = await startTestFleet({
    dir: join(dir, "fleet"),
    hosts: HOSTS,
    server: { url: server.url, adminToken },
    inProcessAgents: true,
    // The bench's gates read /health only: no simulated traffic for /metrics.
    serviceTraffic: false,
    readyTimeoutMs: 600_000,
  });
  log(`» fleet ready in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
  try {
    // Copies of the roots before anything is installed: the floor and Ansible start from the same state.
    const roots = fleet.hosts.map((h) => h.dpkg.root);
    for (const copy of ["floor", "ansible"]) {
      for (const root of roots) cpSync(root, join(dir, copy, basename(root)), { recursive: true });
    }
    const api = new ApiClient(server.url, adminToken);
    const good = await uploadArtifactFile(api, fleet.packages.good, "good");
    // The base version in the store: snapshots keep its copy instead of rebuilding it with dpkg-repack.
    await uploadArtifactFile(api, fleet.packages.base, "base");
    await api.post("/api/v1/policies", { content: policyYaml(), file: "bench.yaml" });
    const change = await api.post<{ id: string }>("/api/v1/changes", {
      package: FLEET_PACKAGE,
      version: fleet.packages.versions.good,
      artifact: { name: basename(fleet.packages.good), sha256: (good as ArtifactMeta).sha256 },
      selector: "environment=prod",
      policy: "bench",
      justification: "rollout benchmark",
    });
    const read = progressReader(join(dir, "autopatch.db"), change.id);
    await sleep(500);
    const requestsBefore = await server.requests();
    const statementsBefore = new Map(flags["statement-trace"] ? await server.statements() : []);
    const childrenBefore = new Map(children);
    const before = await server.sample("submit");
    const profileDir = flags["cpu-prof"];
    const profiler = profileDir ? await startProfile() : null;
    if (profileDir) await server.profile("profile-start");
    const agentsBefore = process.cpuUsage();
    const submitted = await api.post<{ state: string }>(`/api/v1/changes/${change.id}/submit`, {});
    if (submitted.state !== "scheduled") throw new Error(`the change is ${submitted.state} after submit`);
    let last = read();
    let lastPhase: number | null = null;
    while (!TERMINAL.has(last.changeState)) {
      await sleep(25);
      last = read();
      if (last.phase !== lastPhase && last.rolloutState === "running") {
        lastPhase = last.phase;
        await server.sample(`phase ${lastPhase}`);
      }
    }
    const after = await server.sample("end");
    const agentsCpu = process.cpuUsage(agentsBefore);
    if (profiler && profileDir) {
      mkdirSync(profileDir, { recursive: true });
      writeFileSync(join(profileDir, "agents.cpuprofile"), await profiler.stop());
      writeFileSync(join(profileDir, "server.cpuprofile"), await server.profile("profile-stop"));
    }
    const requestsAfter = await server.requests();
    if (flags["statement-trace"]) {
      const stats = (await server.statements())
        .map(([sql, s]): [string, { runs: number; ms: number }] => {
          const was = statementsBefore.get(sql) ?? { runs: 0, ms: 0 };
          return [sql, { runs: s.runs - was.runs, ms: Math.round(s.ms - was.ms) }];
        })
        .filter(([, s]) => s.runs > 0)
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 40);
      writeFileSync(flags["statement-trace"], JSON.stringify(stats, null, 1));
    }
    const wallS = (after.atMs - before.atMs) / 1000;
    if (last.changeState !== "completed") {
      throw new Error(
        `the rollout ended ${last.changeState}: ${whyItFailed(join(dir, "autopatch.db"), change.id)}`,
      );
    }
    // Every host at the new version, each installed exactly once (the maintainer scripts' log).
    let twice = 0;
    for (const host of fleet.hosts) {
      const lines = readFileSync(installLogPath(host.dpkg.root), "utf8").trim().split("\n");
      const upgrades = lines.filter((l) => l.includes(` ${fleet.packages.versions.good} `)).length;
      if (upgrades !== 1) twice += 1;
    }
    if (twice > 0) throw new Error(`${twice} host(s) were not installed exactly once`);
    return {
      wallS,
      patched: last.done,
      requests: difference(requestsAfter, requestsBefore),
      children: difference(Object.fromEntries(children), Object.fromEntries(childrenBefore)),
      audit: auditCounts(join(dir, "autopatch.db"), before.wallClock),
      serverCpuMs: after.cpuMs - before.cpuMs,
      // The agents' and services' process (this one): its own CPU, not its dpkg children's.
      agentsCpuMs: (agentsCpu.user + agentsCpu.system) / 1000,
      samples: server.samples.filter((s) => s.atMs >= before.atMs),
      packages: fleet.packages,
      roots,
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

/** Profiles this process's main thread (the agents and host services) until `stop`. */
async function startProfile() {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    stop: async () => {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      return JSON.stringify(profile);
    },
  };
}

/** The floor: the same installs, two at a time (the machine's cores), by a shell. */
function runFloor(deb: string, roots: readonly string[]): number {
  const args = dpkgRootArgs("/ROOT").map((a) => a.replaceAll("/ROOT", "{}"));
  const script = `xargs -0 -P 2 -I{} dpkg ${args.map((a) => `'${a}'`).join(" ")} -i '${deb}' >/dev/null`;
  const start = performance.now();
  execFileSync("sh", ["-c", script], {
    input: `${roots.join("\0")}\0`,
    stdio: ["pipe", "ignore", "inherit"],
  });
  return (performance.now() - start) / 1000;
}

function ensureAnsible(): void {
  try {
    execFileSync("sh", ["-c", "command -v ansible-playbook"], { stdio: "ignore" });
  } catch {
    log("» installing Debian's ansible-core …");
    execFileSync("apt-get", ["install", "-y", "ansible-core"], { stdio: ["ignore", "ignore", "inherit"] });
  }
}

/** Ansible: connection local, forks 50, serial [1, 25 %, 75 %], one command task per host. */
async function runAnsible(dir: string, deb: string, roots: readonly string[]): Promise<number> {
  ensureAnsible();
  const inventory = [
    "[fleet]",
    ...roots.map((r) => `${basename(r)} ansible_connection=local dpkg_root=${r}`),
    "",
    "[fleet:vars]",
    `ansible_python_interpreter=${execFileSync("sh", ["-c", "command -v python3"]).toString().trim()}`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "inventory.ini"), inventory);
  const dpkgArgs = dpkgRootArgs("/ROOT").map((a) => JSON.stringify(a.replaceAll("/ROOT", "{{ dpkg_root }}")));
  const playbook = `- hosts: fleet
  gather_facts: false
  serial: [1, "25%", "75%"]
  tasks:
    - name: install ${basename(deb)}
      ansible.builtin.command:
        argv: ["dpkg", ${dpkgArgs.join(", ")}, "-i", "${deb}"]
`;
  writeFileSync(join(dir, "playbook.yml"), playbook);
  writeFileSync(join(dir, "ansible.cfg"), "[defaults]\nforks = 50\nhost_key_checking = False\n");
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn("ansible-playbook", ["-i", "inventory.ini", "playbook.yml"], {
      cwd: dir,
      env: { ...process.env, ANSIBLE_CONFIG: join(dir, "ansible.cfg") },
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`ansible-playbook exited with ${code}`)),
    );
  });
  return (performance.now() - start) / 1000;
}

function installedEverywhere(roots: readonly string[], version: string): boolean {
  return roots.every((root) => {
    const out = execFileSync("dpkg-query", [
      `--admindir=${join(root, "var/lib/dpkg")}`,
      "-W",
      "-f=$" + "{Version}", // dpkg-query's field syntax, not a template
      FLEET_PACKAGE,
    ]).toString();
    return out === version;
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "autopatch-bench-rollout-"));
  const load = loadavg();
  try {
    const ap = await runAutopatch(dir);
    log(`» autopatch: ${ap.wallS.toFixed(2)} s for ${ap.patched} hosts`);
    const copies = (name: string) => ap.roots.map((r) => join(dir, name, basename(r)));
    let floorS: number | null = null;
    if (!flags["skip-floor"]) {
      floorS = runFloor(ap.packages.good, copies("floor"));
      if (!installedEverywhere(copies("floor"), ap.packages.versions.good))
        throw new Error("floor incomplete");
      log(`» floor (xargs -P 2): ${floorS.toFixed(2)} s`);
    }
    let ansibleS: number | null = null;
    if (!flags["skip-ansible"]) {
      ansibleS = await runAnsible(dir, ap.packages.good, copies("ansible"));
      if (!installedEverywhere(copies("ansible"), ap.packages.versions.good))
        throw new Error("ansible incomplete");
      log(`» ansible (forks 50, serial 1/25%/75%): ${ansibleS.toFixed(2)} s`);
    }
    const result = {
      hosts: HOSTS,
      autopatchSeconds: round(ap.wallS, 2),
      floorSeconds: floorS === null ? null : round(floorS, 2),
      ansibleSeconds: ansibleS === null ? null : round(ansibleS, 2),
      serverCpuMsPerAsset: round(ap.serverCpuMs / ap.patched, 3),
    };
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const phases = ap.samples.map((s, i) => {
      const prev = ap.samples[i - 1];
      return prev
        ? `  ${prev.label} → ${s.label}: ${((s.atMs - prev.atMs) / 1000).toFixed(2)} s wall, ${(s.cpuMs - prev.cpuMs).toFixed(0)} ms server CPU`
        : null;
    });
    const lines = [
      `hosts: ${HOSTS} (load average at start ${load.map((l) => l.toFixed(2)).join(" ")})`,
      `autopatch: ${result.autopatchSeconds} s`,
      ...phases.filter((p): p is string => p !== null),
      `floor (xargs -P 2 dpkg -i): ${result.floorSeconds ?? "skipped"} s`,
      `ansible (forks 50, serial [1, 25%, 75%]): ${result.ansibleSeconds ?? "skipped"} s`,
      `autopatch / floor: ${floorS === null ? "–" : (ap.wallS / floorS).toFixed(2)}×`,
      `ansible / autopatch: ${ansibleS === null ? "–" : (ansibleS / ap.wallS).toFixed(2)}×`,
      `server CPU: ${ap.serverCpuMs.toFixed(0)} ms, ${result.serverCpuMsPerAsset} ms per patched asset`,
      `agents' process CPU (without its dpkg children): ${ap.agentsCpuMs.toFixed(0)} ms, ${((100 * ap.agentsCpuMs) / 1000 / ap.wallS).toFixed(0)} % of one core`,
      `per patched asset: ${perAsset(ap.requests, ap.patched)} HTTP requests; ${perAsset(ap.children, ap.patched)} child processes; ${perAsset(ap.audit, ap.patched)} audit events`,
      ...Object.entries(ap.requests).map(([k, v]) => `  request ${k}: ${v}`),
      ...Object.entries(ap.children).map(([k, v]) => `  child ${k}: ${v}`),
      ...Object.entries(ap.audit).map(([k, v]) => `  audit ${k}: ${v}`),
      `load average at end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    if (flags.keep) log(`» kept ${dir}`);
    else if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

function perAsset(counts: Record<string, number>, assets: number): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return (total / Math.max(1, assets)).toFixed(2);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

await main();
