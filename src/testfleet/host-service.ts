import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Counter, Histogram, Registry } from "prom-client";
import { BEHAVIOUR_FILE, type Behaviour } from "./packages.js";

/** What a host's service does under each behaviour: the error ratio and latency of simulated traffic. */
const PROFILES: Record<
  Behaviour | "not-installed",
  { healthy: boolean; errorRatio: number; latencyS: number }
> = {
  healthy: { healthy: true, errorRatio: 0.002, latencyS: 0.02 },
  "bad-health": { healthy: false, errorRatio: 0.002, latencyS: 0.02 },
  "bad-metrics": { healthy: true, errorRatio: 0.2, latencyS: 0.35 },
  "not-installed": { healthy: false, errorRatio: 1, latencyS: 0 },
};

/** Simulated requests per traffic tick, and the tick: enough for a rate over a few seconds. */
const REQUESTS_PER_TICK = 10;
const TICK_MS = 200;

export interface HostService {
  readonly port: number;
  readonly healthUrl: string;
  readonly metricsUrl: string;
  /** The behaviour the installed version gives now. */
  behaviour(): Behaviour | "not-installed";
  close(): Promise<void>;
}

/** A small deterministic PRNG (mulberry32): the same seed gives every run the same traffic. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The service of one stand-in host: `/health` and Prometheus `/metrics` on a loopback port, both
 * decided by the version of the fleet's package installed in the host's dpkg root (read on every
 * request, so an install or a rollback changes them at once). Traffic is simulated in the background:
 * request and error counters and a latency histogram move as a real service's would.
 */
export async function startHostService(
  root: string,
  /** `traffic: false`: no simulated requests, the counters stay at zero (for checks of /health only). */
  options: { port?: number; seed?: number; traffic?: boolean } = {},
): Promise<HostService> {
  const behaviourPath = join(root, BEHAVIOUR_FILE);
  const behaviour = (): Behaviour | "not-installed" => {
    try {
      const text = readFileSync(behaviourPath, "utf8").trim();
      return text === "healthy" || text === "bad-health" || text === "bad-metrics" ? text : "not-installed";
    } catch {
      return "not-installed";
    }
  };

  const registry = new Registry();
  const requests = new Counter({
    name: "fleet_http_requests_total",
    help: "Requests served, by status code",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: "fleet_http_request_errors_total",
    help: "Requests that failed (status 5xx)",
    registers: [registry],
  });
  const latency = new Histogram({
    name: "fleet_http_request_duration_seconds",
    help: "Request latency",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const random = seededRandom(options.seed ?? 1);
  const tick = () => {
    const profile = PROFILES[behaviour()];
    for (let i = 0; i < REQUESTS_PER_TICK; i++) {
      const failed = random() < profile.errorRatio;
      requests.inc({ code: failed ? "500" : "200" });
      if (failed) errors.inc();
      // Latency spread ±50 % around the profile's mean.
      latency.observe(profile.latencyS * (0.5 + random()));
    }
  };
  const traffic = options.traffic === false ? null : setInterval(tick, TICK_MS);
  traffic?.unref();

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      const b = behaviour();
      const ok = PROFILES[b].healthy;
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "ok" : "failing", behaviour: b }));
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    healthUrl: `http://127.0.0.1:${port}/health`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    behaviour,
    close: async () => {
      if (traffic !== null) clearInterval(traffic);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
