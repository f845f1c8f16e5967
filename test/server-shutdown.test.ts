import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AGENT_PROTOCOL_HEADER, AGENT_PROTOCOL_VERSION } from "../src/agent/protocol.js";
import { createDpkgRoot } from "../src/localfleet/dpkg-root.js";
import { spawnAgent, stopAgents } from "../src/localfleet/fleet.js";
import { startServer } from "../src/server/start.js";
import { type ServerProcess, spawnServer, sqliteServerEnv } from "./helpers/server-process.js";

const ADMIN = "shutdown-test-admin-token-0123456789";

interface Answer {
  status: number;
  body: string;
}

/** One request over `agent` (keep-alive sockets, as agents and API clients hold them). */
function call(
  agent: Agent,
  base: string,
  method: "GET" | "POST",
  path: string,
  token: string,
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, base),
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          [AGENT_PROTOCOL_HEADER]: String(AGENT_PROTOCOL_VERSION),
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

describe("autopatch server shutdown", () => {
  let dir = "";
  let server: ServerProcess | null = null;
  let agentProcesses: ChildProcess[] = [];
  afterEach(async () => {
    await stopAgents(agentProcesses);
    agentProcesses = [];
    await server?.kill("SIGKILL");
    server = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ends within a couple of seconds of SIGTERM with agents long-polling and an idle keep-alive client", {
    timeout: 60_000,
  }, async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-shutdown-"));
    server = await spawnServer({ ...sqliteServerEnv(dir, ADMIN) });
    const base = server.url;
    const idle = new Agent({ keepAlive: true, keepAliveMsecs: 1000 });
    const enroll = await call(idle, base, "POST", "/api/v1/agent-tokens", ADMIN, { reusable: true });
    expect(enroll.status, enroll.body).toBe(201);
    const enrollToken = (JSON.parse(enroll.body) as { token: string }).token;

    // Real agents: they enroll, report, heartbeat and long-poll for operations.
    for (const name of ["agent-1", "agent-2"]) {
      const dpkg = await createDpkgRoot(join(dir, "hosts", name));
      const host = {
        name,
        placement: { environment: "prod", group: "web", region: "eu", labels: {} },
        dpkg,
        stateDir: join(dir, "agents", name),
      };
      agentProcesses.push(spawnAgent(host, base, enrollToken));
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const assets = await call(idle, base, "GET", "/api/v1/assets", ADMIN);
      const items = (JSON.parse(assets.body) as { items: Array<{ name: string; lastSeen: string | null }> })
        .items;
      if (items.filter((a) => a.name.startsWith("agent-") && a.lastSeen !== null).length === 2) break;
      if (Date.now() > deadline) throw new Error(`agents did not report: ${assets.body}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // Stand-in agents on their own keep-alive connections, to see what their waiting polls get: it heartbeats, then waits for an operation.
    const polls: Array<Promise<Answer>> = [];
    const agents: Agent[] = [];
    for (const name of ["host-1", "host-2", "host-3"]) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const enrolled = await call(agent, base, "POST", "/api/v1/agent/enroll", enrollToken, { name });
      expect(enrolled.status, enrolled.body).toBe(200);
      const { credential } = JSON.parse(enrolled.body) as { credential: string };
      expect((await call(agent, base, "POST", "/api/v1/agent/heartbeat", credential, {})).status).toBe(200);
      polls.push(call(agent, base, "GET", "/api/v1/agent/operations/next?waitMs=25000", credential));
    }
    // The idle client's socket stays open after its answer.
    expect((await call(idle, base, "GET", "/healthz", ADMIN)).status).toBe(200);
    // A connection that never sent a request (as a load balancer opens ahead) stays open too.
    const silent = connect(Number(new URL(base).port), "127.0.0.1");
    silent.on("error", () => {});
    await new Promise((r) => setTimeout(r, 500));

    const started = Date.now();
    const exited = new Promise<number | null>((resolve) =>
      server?.child.once("exit", (code) => resolve(code)),
    );
    server.child.kill("SIGTERM");
    const code = await exited;
    const tookMs = Date.now() - started;
    // The waiting polls were answered "nothing" (204), not cut off.
    expect((await Promise.all(polls)).map((p) => p.status)).toEqual([204, 204, 204]);
    expect(code, server.log()).toBe(0);
    expect(tookMs, server.log()).toBeLessThan(2500);
    for (const a of [idle, ...agents]) a.destroy();
    silent.destroy();
  });
});

describe("closing the server while a background pass is in flight", () => {
  it("answers waiting long-polls at once, then waits for the pass to end", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-close-"));
    try {
      const server = await startServer({
        databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
        listen: "127.0.0.1:0",
        adminToken: ADMIN,
        logger: pino({ level: "silent" }),
      });
      const http = new Agent({ keepAlive: true });
      const enroll = await call(http, server.url, "POST", "/api/v1/agent-tokens", ADMIN, { reusable: true });
      const enrollToken = (JSON.parse(enroll.body) as { token: string }).token;
      const enrolled = await call(http, server.url, "POST", "/api/v1/agent/enroll", enrollToken, {
        name: "host-1",
      });
      const { credential } = JSON.parse(enrolled.body) as { credential: string };
      // A pass that takes 1.5 s to finish what it started, as an engine pass writing its results does.
      let passStarted: () => void = () => {};
      const started = new Promise<void>((resolve) => {
        passStarted = resolve;
      });
      let passEndedAt = 0;
      server.scheduler.register({
        name: "slow-pass",
        intervalMs: 60_000,
        timeoutMs: 30_000,
        scope: "every-replica",
        initialDelayMs: 0,
        run: async () => {
          passStarted();
          await new Promise((r) => setTimeout(r, 1500));
          passEndedAt = Date.now();
        },
      });
      await started;
      const poll = call(http, server.url, "GET", "/api/v1/agent/operations/next?waitMs=20000", credential);
      await new Promise((r) => setTimeout(r, 200));
      const closing = Date.now();
      let answeredAt = 0;
      const answered = poll.then((a) => {
        answeredAt = Date.now();
        return a;
      });
      await server.close();
      const closedAt = Date.now();
      expect((await answered).status).toBe(204);
      // The agent learns at once; the pass in flight still ends before the store closes.
      expect(answeredAt - closing).toBeLessThan(500);
      expect(passEndedAt).toBeGreaterThan(0);
      expect(closedAt).toBeGreaterThanOrEqual(passEndedAt);
      http.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
