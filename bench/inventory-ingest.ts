/**
 * Inventory ingest benchmark: enrolls N agents through the HTTP API, then sends every agent's full
 * package report (PUT /api/v1/agent/inventory) and a second, incremental pass (~2% changed), on SQLite
 * and on an embedded PostgreSQL. The server runs on the main thread; the load generator runs in a
 * worker thread so building and sending reports does not steal the server's event loop.
 *
 *   npx tsx bench/inventory-ingest.ts [--agents 2000] [--packages 600] [--concurrency 8]
 *                                     [--only sqlite|postgres] [--json]
 *                                     [--sqlite-pragma name=value]…
 */

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import type { PackageRecord } from "../src/domain/inventory.js";
import { canonicalPackageSet, packageSetDigest } from "../src/domain/package-set.js";
import { parseDpkgStatus } from "../src/inventory/importers/dpkg-status.js";
import { packageToPurl } from "../src/inventory/purl.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { type StatementStats, statementTrace } from "../src/store/statement-cache.js";
import { startEmbeddedPostgres } from "../test/helpers/embedded-postgres.js";
import { keptAliveSender } from "./http-client.js";
import { childrenCpuMs } from "./process-cpu.js";

type Dialect = "sqlite" | "postgres";
/** full: every package; incremental: a full report with ~2% changed; delta: the same ~2% back as a PATCH. */
type PassKind = "full" | "incremental" | "delta";

interface Params {
  agents: number;
  packages: number;
  concurrency: number;
  dialects: Dialect[];
  /** Extra `PRAGMA name=value` run on the server's SQLite connection: to try tuning without editing src. */
  sqlitePragmas: string[];
  json: boolean;
}

interface WorkerInput {
  url: string;
  credentials: string[];
  pool: PackageRecord[];
  packages: number;
  concurrency: number;
}

interface PassRequest {
  pass: PassKind;
  /** prepare: build and encode every body (untimed); send: the timed pass over the prepared bodies. */
  step: "prepare" | "send";
}

interface PassResult {
  pass: PassKind;
  reports: number;
  /** Package rows sent in the reports (agents × packages). */
  rowsReported: number;
  /** Rows the server says it added, removed or changed (from the report summaries). */
  added: number;
  removed: number;
  changed: number;
  wallMs: number;
  rowsPerSec: number;
  reportsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Mean request body size, to tell serialisation cost from database cost. */
  meanBodyBytes: number;
  /**
   * CPU time per report of the server's thread (request handling and the synchronous SQLite calls;
   * see threadCpuMs), busy time of the load generator's thread, in ms; and the whole process's CPU
   * per report (both threads, GC and libuv helpers; PostgreSQL's own processes are not in it). The machine has few cores: when the generator
   * is busy for long, the server's figures are the ones to read.
   */
  cpu: {
    serverMsPerReport: number;
    clientMsPerReport: number;
    processMsPerReport: number;
    /** CPU of the database's own processes per report (PostgreSQL; 0 for SQLite, which runs in the server's thread). */
    databaseMsPerReport: number;
  };
}

interface EnrollResult {
  agents: number;
  wallMs: number;
  perSec: number;
  latencyMs: { p50: number; p99: number; max: number };
}

interface DialectResult {
  dialect: Dialect;
  enroll: EnrollResult;
  full: PassResult;
  incremental: PassResult;
  delta: PassResult;
  expectedRows: number;
  storedRows: number;
  /** SQLite file (+ WAL) size or PostgreSQL database size after both passes. */
  databaseBytes: number;
}

const FIXTURE = new URL("../test/fixtures/data/dpkg/debian12-bookworm-node-image.status", import.meta.url);
const ECOSYSTEM = "Debian:12";
/** Share of an agent's packages whose version differs from the image's, so rows differ across agents. */
const BUMPED_SHARE = 0.1;
/** Share of packages that change between the full and the incremental pass. */
const INCREMENTAL_SHARE = 0.02;

// ---------------------------------------------------------------------------------------------------
// Deterministic package sets (shared by both threads: the worker rebuilds them from the pool).

/** mulberry32: a tiny seeded PRNG, so every run and both dialects see the same package sets. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

function withVersion(p: PackageRecord, version: string): PackageRecord {
  return {
    ...p,
    version,
    purl: packageToPurl({ ecosystem: p.ecosystem, name: p.name, version, arch: p.arch ?? null }),
  };
}

/** The package set of one agent: a per-agent subset of the image with some versions bumped; the
 * incremental pass changes ~2% of it (version bumps plus one package swapped for another). */
export function agentPackages(
  pool: readonly PackageRecord[],
  agent: number,
  count: number,
  pass: PassKind,
): PackageRecord[] {
  const random = rng(agent * 7919 + 17);
  const order = shuffled(pool, random);
  const chosen = order.slice(0, count).map((p) => {
    if (random() >= BUMPED_SHARE) return p;
    return withVersion(p, `${p.version}+bench${1 + Math.floor(random() * 3)}`);
  });
  if (pass === "full") return chosen;
  const changes = Math.max(1, Math.round(count * INCREMENTAL_SHARE));
  const out = [...chosen];
  const picks = shuffled(
    out.map((_, i) => i),
    random,
  ).slice(0, changes);
  const spare = order[count];
  picks.forEach((index, k) => {
    const p = out[index] as PackageRecord;
    // One swap per agent (when the pool has a package left over) keeps the row count unchanged.
    out[index] = k === 0 && spare !== undefined ? spare : withVersion(p, `${p.version}+inc1`);
  });
  return out;
}

/**
 * The delta pass: the agent goes back from its incremental set to its full one and sends only the
 * changes, based on the digest the server acknowledged for the incremental report.
 */
function deltaBody(pool: readonly PackageRecord[], agent: number, count: number) {
  const from = canonicalPackageSet(agentPackages(pool, agent, count, "incremental"));
  const to = canonicalPackageSet(agentPackages(pool, agent, count, "full"));
  return {
    base: packageSetDigest(from.values()),
    digest: packageSetDigest(to.values()),
    added: [...to].filter(([k]) => !from.has(k)).map(([, p]) => p),
    removed: [...from]
      .filter(([k]) => !to.has(k))
      .map(([, p]) => ({ ecosystem: p.ecosystem, name: p.name, version: p.version, arch: p.arch })),
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

/** Runs `task` over 0..n-1 with at most `limit` in flight. */
async function boundedAll(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next;
      next += 1;
      await task(i);
    }
  });
  await Promise.all(lanes);
}

// ---------------------------------------------------------------------------------------------------
// Worker thread: the load generator.

interface SummaryBody {
  added: number;
  removed: number;
  changed: number;
}

/**
 * Every body of a pass, built and encoded before it starts, so the generator's thread only sends and
 * reads during it: on a two-core machine its work would otherwise take CPU from the server.
 */
function prepareBodies(input: WorkerInput, pass: PassKind): Buffer[] {
  return Array.from({ length: input.credentials.length }, (_, i) =>
    Buffer.from(
      JSON.stringify(
        pass === "delta"
          ? deltaBody(input.pool, i, input.packages)
          : { packages: agentPackages(input.pool, i, input.packages, pass) },
      ),
    ),
  );
}

async function runPass(input: WorkerInput, pass: PassKind, bodies: readonly Buffer[]): Promise<PassResult> {
  const n = input.credentials.length;
  const latencies: number[] = new Array(n).fill(0);
  let added = 0;
  let removed = 0;
  let changed = 0;
  let bodyBytes = 0;
  // Kept-alive connections, one per lane (see http-client.ts).
  const sender = keptAliveSender(input.url, input.concurrency);
  const method = pass === "delta" ? "PATCH" : "PUT";
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  await boundedAll(n, input.concurrency, async (i) => {
    const body = bodies[i] as Buffer;
    bodyBytes += body.length;
    const t0 = performance.now();
    const { status, text } = await sender.send(
      method,
      "/api/v1/agent/inventory",
      {
        "content-type": "application/json",
        "content-length": body.length,
        authorization: `Bearer ${input.credentials[i] as string}`,
      },
      body,
    );
    latencies[i] = performance.now() - t0;
    if (status !== 200) throw new Error(`agent ${i} ${pass} report: HTTP ${status} ${text}`);
    const summary = JSON.parse(text) as SummaryBody;
    added += summary.added;
    removed += summary.removed;
    changed += summary.changed;
  });
  const wallMs = performance.now() - started;
  const clientBusyMs = performance.eventLoopUtilization(elu).active;
  sender.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const rowsReported = n * input.packages;
  return {
    pass,
    reports: n,
    rowsReported,
    added,
    removed,
    changed,
    wallMs,
    rowsPerSec: rowsReported / (wallMs / 1000),
    reportsPerSec: n / (wallMs / 1000),
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? 0,
      mean: sorted.reduce((s, x) => s + x, 0) / Math.max(1, n),
    },
    meanBodyBytes: bodyBytes / Math.max(1, n),
    // The server's share is filled in by the main thread, which measures its own loop.
    cpu: {
      serverMsPerReport: 0,
      clientMsPerReport: clientBusyMs / Math.max(1, n),
      processMsPerReport: 0,
      databaseMsPerReport: 0,
    },
  };
}

function workerMain(): void {
  const input = workerData as WorkerInput;
  const port = parentPort;
  if (!port) throw new Error("the load generator must run in a worker thread");
  let prepared: { pass: PassKind; bodies: Buffer[] } | undefined;
  port.on("message", (message: PassRequest) => {
    const step = async (): Promise<PassResult | null> => {
      if (message.step === "prepare") {
        prepared = { pass: message.pass, bodies: prepareBodies(input, message.pass) };
        return null;
      }
      if (prepared?.pass !== message.pass) throw new Error(`the ${message.pass} pass was not prepared`);
      const { bodies } = prepared;
      prepared = undefined;
      return runPass(input, message.pass, bodies);
    };
    step().then(
      (result) => port.postMessage({ ok: true, result }),
      (err: unknown) =>
        port.postMessage({ ok: false, error: err instanceof Error ? err.stack : String(err) }),
    );
  });
}

// ---------------------------------------------------------------------------------------------------
// Main thread: databases, server, enrollment, verification, output.

function parseParams(): Params {
  const { values } = parseArgs({
    options: {
      agents: { type: "string", default: "2000" },
      packages: { type: "string", default: "600" },
      concurrency: { type: "string", default: "8" },
      only: { type: "string" },
      "sqlite-pragma": { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
    },
  });
  const int = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${raw}"`);
    return n;
  };
  const only = values.only;
  if (only !== undefined && only !== "sqlite" && only !== "postgres")
    throw new Error(`--only must be sqlite or postgres, not "${only}"`);
  return {
    agents: int("agents", values.agents),
    packages: int("packages", values.packages),
    concurrency: int("concurrency", values.concurrency),
    dialects: only ? [only] : ["sqlite", "postgres"],
    sqlitePragmas: values["sqlite-pragma"].map((p) => {
      if (!/^[a-z_]+\s*=\s*[-\w]+$/i.test(p))
        throw new Error(`--sqlite-pragma must be name=value (e.g. cache_size=-262144), not "${p}"`);
      return p;
    }),
    json: values.json,
  };
}

function loadPool(packages: number): PackageRecord[] {
  const { packages: pool } = parseDpkgStatus(readFileSync(FIXTURE, "utf8"), {
    file: "debian12-bookworm-node-image.status",
    ecosystem: ECOSYSTEM,
  });
  if (pool.length < packages)
    throw new Error(`--packages ${packages} exceeds the ${pool.length} installed packages of the fixture`);
  return pool;
}

interface Database {
  url: string;
  bytes(): Promise<number>;
  dispose(): Promise<void>;
}

function sqliteDatabase(): Database {
  const dir = mkdtempSync(join(tmpdir(), "autopatch-bench-sqlite-"));
  const file = join(dir, "bench.db");
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return {
    url: `sqlite:${file}`,
    bytes: async () => size(file) + size(`${file}-wal`),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresDatabase(): Promise<Database> {
  const server = await startEmbeddedPostgres();
  const base = server.baseUrl;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query("create database autopatch_bench");
  await admin.end();
  return {
    url: `${base}/autopatch_bench`,
    bytes: async () => {
      const c = new pg.Client({ connectionString: `${base}/autopatch_bench` });
      await c.connect();
      const r = await c.query<{ size: string }>("select pg_database_size('autopatch_bench')::text as size");
      await c.end();
      return Number(r.rows[0]?.size ?? 0);
    },
    dispose: () => server.stop(),
  };
}

async function postJson<T>(url: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`POST ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function enrollAll(server: RunningServer, adminToken: string, params: Params) {
  const { token } = await postJson<{ token: string }>(`${server.url}/api/v1/agent-tokens`, adminToken, {
    reusable: true,
  });
  const credentials: string[] = new Array(params.agents).fill("");
  const latencies: number[] = new Array(params.agents).fill(0);
  const started = performance.now();
  await boundedAll(params.agents, params.concurrency, async (i) => {
    const t0 = performance.now();
    const enrolled = await postJson<{ credential: string }>(`${server.url}/api/v1/agent/enroll`, token, {
      name: `bench-agent-${String(i).padStart(5, "0")}`,
      kind: "host",
      environment: "bench",
    });
    latencies[i] = performance.now() - t0;
    credentials[i] = enrolled.credential;
  });
  const wallMs = performance.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  const enroll: EnrollResult = {
    agents: params.agents,
    wallMs,
    perSec: params.agents / (wallMs / 1000),
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 },
  };
  return { credentials, enroll };
}

/**
 * CPU time of this (the server's) thread in ms, from Linux's per-thread accounting (10 ms ticks: fine
 * over a pass); null elsewhere, where the event loop's busy time stands in for it. Busy time counts
 * waiting for the CPU too, so on a loaded machine it is larger than the CPU time.
 */
function threadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Runs a pass: the generator prepares its bodies, then sends them while this thread measures itself. */
function measured(
  request: (pass: PassKind, step: PassRequest["step"]) => Promise<PassResult | null>,
): (pass: PassKind) => Promise<PassResult> {
  return async (pass) => {
    await request(pass, "prepare");
    const statements = new Map([...statementTrace()].map(([k, v]) => [k, { ...v }]));
    let elu = performance.eventLoopUtilization();
    let cpu = process.cpuUsage();
    const thread = threadCpuMs();
    const children = childrenCpuMs();
    // Monotonic microseconds, the clock of --cpu-prof's samples: to cut a profile down to one pass.
    const mark = () => String(process.hrtime.bigint() / 1000n);
    if (process.env.AUTOPATCH_BENCH_MARKS) process.stderr.write(`mark ${pass} start ${mark()}\n`);
    const result = await request(pass, "send");
    if (process.env.AUTOPATCH_BENCH_MARKS) process.stderr.write(`mark ${pass} end ${mark()}\n`);
    if (result === null) throw new Error(`load generator: the ${pass} pass returned no result`);
    const threadAfter = threadCpuMs();
    const childrenAfter = childrenCpuMs();
    elu = performance.eventLoopUtilization(elu);
    cpu = process.cpuUsage(cpu);
    const perReport = (ms: number) => ms / Math.max(1, result.reports);
    statementReport(pass, result.reports, statements);
    return {
      ...result,
      cpu: {
        ...result.cpu,
        serverMsPerReport: perReport(
          thread === null || threadAfter === null ? elu.active : threadAfter - thread,
        ),
        processMsPerReport: perReport((cpu.user + cpu.system) / 1000),
        databaseMsPerReport:
          children === null || childrenAfter === null ? 0 : perReport(childrenAfter - children),
      },
    };
  };
}

/**
 * With AUTOPATCH_STATEMENT_TRACE set, prints the statements of one pass that took the
 * most time, per report, to stderr: where the database's share of a report goes.
 */
function statementReport(pass: PassKind, reports: number, before: ReadonlyMap<string, StatementStats>): void {
  const after = statementTrace();
  if (after.size === 0) return;
  const rows = [...after]
    .map(([sqlText, s]) => {
      const was = before.get(sqlText) ?? { runs: 0, ms: 0 };
      return { sqlText, runs: s.runs - was.runs, ms: s.ms - was.ms };
    })
    .filter((r) => r.runs > 0)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12);
  const total = rows.reduce((t, r) => t + r.ms, 0);
  process.stderr.write(
    `statements of the ${pass} pass (top 12: ${(total / reports).toFixed(2)} ms/report)\n`,
  );
  for (const r of rows) {
    process.stderr.write(
      `  ${(r.ms / reports).toFixed(3)} ms/report  ${String(r.runs).padStart(7)} runs  ${r.sqlText.replace(/\s+/g, " ").slice(0, 110)}\n`,
    );
  }
}

function startLoadGenerator(input: WorkerInput): { run(pass: PassKind): Promise<PassResult>; stop(): void } {
  // The same file runs in the worker. Node 20 does not apply tsx's --import hooks to workers, so the
  // worker registers tsx itself before importing this file.
  const bootstrap = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })
    .catch((err) => { throw err; });`;
  const worker = new Worker(bootstrap, { eval: true, workerData: input });
  const request = (pass: PassKind, step: PassRequest["step"]) =>
    new Promise<PassResult | null>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once("error", onError);
      worker.once("message", (m: { ok: true; result: PassResult | null } | { ok: false; error: string }) => {
        worker.off("error", onError);
        if (m.ok) resolve(m.result);
        else reject(new Error(`load generator: ${m.error}`));
      });
      worker.postMessage({ pass, step } satisfies PassRequest);
    });
  return {
    run: measured(request),
    stop: () => void worker.terminate(),
  };
}

async function benchDialect(dialect: Dialect, pool: PackageRecord[], params: Params): Promise<DialectResult> {
  const log = (msg: string) => {
    if (!params.json) process.stderr.write(`[${dialect}] ${msg}\n`);
  };
  const database = dialect === "sqlite" ? sqliteDatabase() : await postgresDatabase();
  try {
    const adminToken = `apt_bench_${Math.random().toString(36).slice(2)}`;
    const server = await startServer({
      databaseUrl: database.url,
      listen: "127.0.0.1:0",
      adminToken,
      // Bench agents send no heartbeats: a long interval keeps the stale sweeper from marking them mid-run.
      config: { heartbeatIntervalMs: 3_600_000 },
      logger: pino({ level: "silent" }),
    });
    try {
      if (dialect === "sqlite") {
        // The SQLite dialect has one connection, so a pragma run through Kysely applies to the server.
        for (const pragma of params.sqlitePragmas)
          await sql.raw(`pragma ${pragma}`).execute(server.ctx.store.db);
      }
      log(`enrolling ${params.agents} agents…`);
      const { credentials, enroll } = await enrollAll(server, adminToken, params);
      log(`enrolled in ${(enroll.wallMs / 1000).toFixed(1)} s`);
      const generator = startLoadGenerator({
        url: server.url,
        credentials,
        pool,
        packages: params.packages,
        concurrency: params.concurrency,
      });
      try {
        log(`full pass: ${params.agents} × ${params.packages} rows…`);
        const full = await generator.run("full");
        log(`full pass: ${(full.wallMs / 1000).toFixed(1)} s, ${Math.round(full.rowsPerSec)} rows/s`);
        log("incremental pass…");
        const incremental = await generator.run("incremental");
        log(`incremental pass: ${(incremental.wallMs / 1000).toFixed(1)} s`);
        log("delta pass…");
        const delta = await generator.run("delta");
        log(`delta pass: ${(delta.wallMs / 1000).toFixed(1)} s`);
        const counted = await server.ctx.store.db
          .selectFrom("installed_packages")
          .select((eb) => eb.fn.countAll<string | number>().as("n"))
          .executeTakeFirstOrThrow();
        return {
          dialect,
          enroll,
          full,
          incremental,
          delta,
          expectedRows: params.agents * params.packages,
          storedRows: Number(counted.n),
          databaseBytes: await database.bytes(),
        };
      } finally {
        generator.stop();
      }
    } finally {
      await server.close();
    }
  } finally {
    await database.dispose();
  }
}

function machine() {
  const cpuModel = (() => {
    try {
      const line = readFileSync("/proc/cpuinfo", "utf8")
        .split("\n")
        .find((l) => l.startsWith("model name"));
      return line?.split(":")[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
    } catch {
      return cpus()[0]?.model ?? "unknown";
    }
  })();
  return {
    cpus: cpus().length,
    cpuModel,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** The goals of the ingest benchmark (bench/RESULTS.md), per database: full-pass rows/s and the delta speed-up. */
const GOALS = {
  sqlite: { fullRowsPerSec: 150_000, fullRowsPerSecFloor: 100_000 },
  postgres: { fullRowsPerSec: 80_000, fullRowsPerSecFloor: 80_000 },
  deltaSpeedup: 5,
} as const;

interface GoalCheck {
  dialect: Dialect;
  fullRowsPerSec: number;
  fullGoal: number;
  fullFloor: number;
  /** Wall time per report of the full pass over that of the delta pass (same number of reports). */
  deltaSpeedup: number;
  /** The same by mean latency per report. */
  deltaSpeedupByLatency: number;
  fullP99Ms: number;
  deltaP99Ms: number;
  met: { full: boolean; floor: boolean; delta: boolean };
}

function checkGoals(r: DialectResult): GoalCheck {
  const goal = GOALS[r.dialect];
  const deltaSpeedup = r.full.wallMs / r.delta.wallMs;
  return {
    dialect: r.dialect,
    fullRowsPerSec: r.full.rowsPerSec,
    fullGoal: goal.fullRowsPerSec,
    fullFloor: goal.fullRowsPerSecFloor,
    deltaSpeedup,
    deltaSpeedupByLatency: r.full.latencyMs.mean / r.delta.latencyMs.mean,
    fullP99Ms: r.full.latencyMs.p99,
    deltaP99Ms: r.delta.latencyMs.p99,
    met: {
      full: r.full.rowsPerSec >= goal.fullRowsPerSec,
      floor: r.full.rowsPerSec >= goal.fullRowsPerSecFloor,
      delta: deltaSpeedup >= GOALS.deltaSpeedup,
    },
  };
}

function goalLines(results: readonly DialectResult[]): string[] {
  return results.map((r) => {
    const g = checkGoals(r);
    const yes = (ok: boolean) => (ok ? "met" : "MISSED");
    return (
      `${r.dialect}: full ${Math.round(g.fullRowsPerSec)} rows/s (goal ${g.fullGoal}: ${yes(g.met.full)}` +
      `${g.fullFloor < g.fullGoal ? `, floor ${g.fullFloor}: ${yes(g.met.floor)}` : ""}); ` +
      `delta ${g.deltaSpeedup.toFixed(1)}× faster per report by wall time, ${g.deltaSpeedupByLatency.toFixed(1)}× by mean latency ` +
      `(goal ${GOALS.deltaSpeedup}×: ${yes(g.met.delta)}); p99 full ${g.fullP99Ms.toFixed(0)} ms, delta ${g.deltaP99Ms.toFixed(0)} ms`
    );
  });
}

function table(results: readonly DialectResult[]): string {
  const rows: string[][] = [
    [
      "dialect",
      "pass",
      "reports",
      "rows sent",
      "wall s",
      "rows/s",
      "reports/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "added/removed/changed",
      "server ms/report",
      "client ms/report",
      "process CPU ms/report",
      "database CPU ms/report",
    ],
  ];
  for (const r of results) {
    rows.push([
      r.dialect,
      "enroll",
      String(r.enroll.agents),
      "-",
      (r.enroll.wallMs / 1000).toFixed(1),
      "-",
      r.enroll.perSec.toFixed(0),
      r.enroll.latencyMs.p50.toFixed(1),
      r.enroll.latencyMs.p99.toFixed(1),
      r.enroll.latencyMs.max.toFixed(1),
      "-",
      "-",
      "-",
      "-",
      "-",
    ]);
    for (const p of [r.full, r.incremental, r.delta]) {
      rows.push([
        r.dialect,
        p.pass,
        String(p.reports),
        String(p.rowsReported),
        (p.wallMs / 1000).toFixed(1),
        p.rowsPerSec.toFixed(0),
        p.reportsPerSec.toFixed(1),
        p.latencyMs.p50.toFixed(1),
        p.latencyMs.p99.toFixed(1),
        p.latencyMs.max.toFixed(1),
        `${p.added}/${p.removed}/${p.changed}`,
        p.cpu.serverMsPerReport.toFixed(2),
        p.cpu.clientMsPerReport.toFixed(2),
        p.cpu.processMsPerReport.toFixed(2),
        p.cpu.databaseMsPerReport.toFixed(2),
      ]);
    }
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? "").length))) ?? [];
  const lines = rows.map((row) => row.map((cell, c) => cell.padStart(widths[c] ?? 0)).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const checks = results.map(
    (r) =>
      `${r.dialect}: stored rows ${r.storedRows} (expected ${r.expectedRows}) ${r.storedRows === r.expectedRows ? "OK" : "MISMATCH"}, database ${(r.databaseBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  return [...lines, "", ...checks, "", ...goalLines(results)].join("\n");
}

async function main(): Promise<void> {
  const params = parseParams();
  const pool = loadPool(params.packages);
  // The machine may be shared: its load at the start and the end says how far to trust the figures.
  const load = { start: loadavg(), end: [] as number[] };
  const results: DialectResult[] = [];
  for (const dialect of params.dialects) results.push(await benchDialect(dialect, pool, params));
  load.end = loadavg();
  const env = machine();
  const loads = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(" / ");
  if (params.json) {
    process.stdout.write(
      `${JSON.stringify({ machine: env, load, params, results, goals: results.map(checkGoals) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `inventory ingest: ${params.agents} agents × ${params.packages} packages, concurrency ${params.concurrency}` +
        `${params.sqlitePragmas.length > 0 ? `, sqlite pragmas: ${params.sqlitePragmas.join(" ")}` : ""}\n` +
        `${env.cpus} × ${env.cpuModel}, ${env.memoryGiB} GiB, node ${env.node}, ${env.date}\n` +
        `load average (1 / 5 / 15 min): ${loads(load.start)} at the start, ${loads(load.end)} at the end\n\n` +
        `${table(results)}\n`,
    );
  }
  if (results.some((r) => r.storedRows !== r.expectedRows)) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
} else {
  workerMain();
}
