/**
 * Server CPU per HTTP request: starts the real server in-process on a fresh SQLite file, enrolls one
 * agent through the API, then sends N sequential and N concurrent requests of a few routes from a
 * child process (so that the client's CPU is not counted) and prints this process's CPU (user +
 * system, `process.cpuUsage()`) per request. The background loops run on hour-long intervals so that
 * they stay out of the figures; an idle period of the same length is measured and shown too.
 *
 *   npx tsx bench/http-request.ts [--requests 2000] [--concurrency 16] [--rounds 3] [--concurrent-only]
 *     [--only heartbeat] [--json]
 *   npx tsx bench/http-request.ts --only heartbeat --cpu-prof heartbeat.cpuprofile   # the measured rounds only
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { AGENT_PROTOCOL_HEADER, AGENT_PROTOCOL_VERSION } from "../src/agent/protocol.js";
import { startServer } from "../src/server/start.js";
import { keptAliveSender } from "./http-client.js";

/** One kind of request the client sends. */
interface Probe {
  name: string;
  method: string;
  path: string;
  body?: string;
  /** Sends the agent's credential as the bearer. */
  auth: boolean;
  status: number;
}

interface ClientJob {
  url: string;
  credential: string;
  probe: Probe;
  requests: number;
  concurrency: number;
}

interface ClientDone {
  wallMs: number;
}

const PROBES: Probe[] = [
  { name: "GET /healthz (public)", method: "GET", path: "/healthz", auth: false, status: 200 },
  {
    name: "POST /api/v1/agent/heartbeat",
    method: "POST",
    path: "/api/v1/agent/heartbeat",
    body: JSON.stringify({ agentVersion: "bench", packagesDigest: "sha256:bench" }),
    auth: true,
    status: 200,
  },
  {
    name: "GET /api/v1/agent/operations/next?waitMs=0",
    method: "GET",
    path: "/api/v1/agent/operations/next?waitMs=0",
    auth: true,
    status: 204,
  },
  {
    name: "GET /api/v1/agent/nothing-here (404)",
    method: "GET",
    path: "/api/v1/agent/nothing-here",
    auth: true,
    status: 404,
  },
  {
    name: "POST /api/v1/agent/heartbeat (401)",
    method: "POST",
    path: "/api/v1/agent/heartbeat",
    body: "{}",
    auth: false,
    status: 401,
  },
];

// Child process: the load generator.
if (process.argv.includes("--client")) {
  process.on("message", (job: ClientJob) => {
    void runClient(job).then((done) => process.send?.(done));
  });
} else {
  await main();
}

async function runClient(job: ClientJob): Promise<ClientDone> {
  const sender = keptAliveSender(job.url, job.concurrency);
  const headers: Record<string, string> = { [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION) };
  if (job.probe.auth) headers.authorization = `Bearer ${job.credential}`;
  if (job.probe.body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(job.probe.body));
  }
  const one = async () => {
    // The status is all the bench checks: the body is drained unread.
    const { status } = await sender.send(job.probe.method, job.probe.path, headers, job.probe.body, false);
    if (status !== job.probe.status) throw new Error(`${job.probe.name}: HTTP ${status}`);
  };
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.requests) {
        next += 1;
        await one();
      }
    }),
  );
  sender.close();
  return { wallMs: performance.now() - started };
}

interface Row {
  probe: string;
  concurrency: number;
  requests: number;
  /** Server CPU per request, µs: the best of the rounds (the least disturbed by the machine). */
  cpuUsPerRequest: number;
  wallUsPerRequest: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "16" },
      "concurrent-only": { type: "boolean", default: false },
      rounds: { type: "string", default: "3" },
      only: { type: "string" },
      json: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
    },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), "autopatch-http-bench-"));
  const adminToken = `apt_bench_${Math.random().toString(36).slice(2)}`;
  const server = await startServer({
    databaseUrl: `sqlite://${join(dir, "bench.db")}`,
    listen: "127.0.0.1:0",
    adminToken,
    audit: { keyFile: join(dir, "audit.key"), checkpointLog: join(dir, "checkpoints.log") },
    // The engine and the stale sweeper stay out of the figures.
    config: { heartbeatIntervalMs: 3_600_000, enginePassMs: 3_600_000 },
    logger: pino({ level: "silent" }),
  });
  const client = fork(import.meta.filename, ["--client"], { execArgv: ["--import", "tsx"] });
  try {
    const credential = await enroll(server.url, adminToken);
    const send = (job: ClientJob) =>
      new Promise<ClientDone>((resolve, reject) => {
        const fail = (err: Error) => reject(err);
        client.once("error", fail);
        client.once("message", (done: ClientDone) => {
          client.off("error", fail);
          resolve(done);
        });
        client.send(job);
      });
    const rows: Row[] = [];
    const probes = PROBES.filter((p) => values.only === undefined || p.name.includes(values.only));
    // Warm-up: every route once through JIT and caches.
    for (const probe of probes) {
      await send({ url: server.url, credential, probe, requests: 500, concurrency: 4 });
    }
    const profiler = values["cpu-prof"] === undefined ? null : new Session();
    if (profiler) {
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.start");
    }
    for (const probe of probes) {
      for (const c of values["concurrent-only"] ? [concurrency] : [1, concurrency]) {
        let best = Number.POSITIVE_INFINITY;
        let wall = 0;
        for (let round = 0; round < rounds; round += 1) {
          const before = process.cpuUsage();
          const done = await send({ url: server.url, credential, probe, requests, concurrency: c });
          const used = process.cpuUsage(before);
          const us = (used.user + used.system) / requests;
          if (us < best) {
            best = us;
            wall = (done.wallMs * 1000) / requests;
          }
        }
        rows.push({
          probe: probe.name,
          concurrency: c,
          requests,
          cpuUsPerRequest: best,
          wallUsPerRequest: wall,
        });
        if (!values.json) {
          process.stderr.write(
            `${probe.name.padEnd(46)} c=${String(c).padStart(2)}  ${best.toFixed(0).padStart(5)} µs CPU/request  ${wall.toFixed(0).padStart(5)} µs wall/request\n`,
          );
        }
      }
    }
    if (profiler && values["cpu-prof"] !== undefined) {
      const { profile } = await profiler.post("Profiler.stop");
      writeFileSync(values["cpu-prof"], JSON.stringify(profile));
      profiler.disconnect();
    }
    const idleBefore = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = process.cpuUsage(idleBefore);
    const idleUsPerSecond = idle.user + idle.system;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ rows, idleUsPerSecond }, null, 2)}\n`);
    } else {
      process.stderr.write(`idle server: ${(idleUsPerSecond / 1000).toFixed(1)} ms CPU per second\n`);
    }
  } finally {
    client.kill();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function enroll(url: string, adminToken: string): Promise<string> {
  const post = async (path: string, bearer: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const { token } = await post("/api/v1/agent-tokens", adminToken, {});
  const enrolled = await post("/api/v1/agent/enroll", String(token), {
    name: "bench-agent",
    kind: "host",
    environment: "bench",
  });
  return String(enrolled.credential);
}
