/**
 * The server of the rollout benchmark, in a process of its own so that its CPU time is its own: the
 * real `startServer` on a SQLite file, with the settings the parent passes in argv (JSON). It tells
 * the parent its URL over IPC, answers `cpu` with process.cpuUsage() (optionally labelled, so the
 * parent can split the time by phase), and closes cleanly on `stop` (a --cpu-prof profile is written
 * on that exit).
 */

import { Session } from "node:inspector/promises";
import { startServer } from "../src/server/start.js";
import { createLogger } from "../src/service/logger.js";
import { statementTrace } from "../src/store/statement-cache.js";

interface ServerArgs {
  databaseUrl: string;
  adminToken: string;
  heartbeatIntervalMs: number;
  enginePassMs: number;
}

type Request =
  | { type: "cpu"; id: number }
  | { type: "requests"; id: number }
  | { type: "statements"; id: number }
  | { type: "profile-start" | "profile-stop"; id: number }
  | { type: "stop" };

const args = JSON.parse(process.argv[2] ?? "{}") as ServerArgs;
const send = (message: unknown) => process.send?.(message);

const server = await startServer({
  databaseUrl: args.databaseUrl,
  listen: "127.0.0.1:0",
  adminToken: args.adminToken,
  config: { heartbeatIntervalMs: args.heartbeatIntervalMs, enginePassMs: args.enginePassMs },
  logger: createLogger({ level: "warn" }),
});

// HTTP requests by method and route shape (ids and digests folded), counted on the raw server.
const requests = new Map<string, number>();
server.app.server.on("request", (req: { method?: string; url?: string }) => {
  const path = (req.url ?? "").split("?")[0] ?? "";
  const shape = path.replace(/\/op-[0-9a-f]+/g, "/:id").replace(/\/[0-9a-f]{64}/g, "/:sha256");
  const key = `${req.method} ${shape}`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
});

// A CPU profile of this process's main thread between profile-start and profile-stop (the rollout).
const session = new Session();
session.connect();

process.on("message", (message: Request) => {
  if (message.type === "profile-start") {
    session
      .post("Profiler.enable")
      .then(() => session.post("Profiler.start"))
      .then(() => send({ type: message.type, id: message.id }));
    return;
  }
  if (message.type === "profile-stop") {
    session
      .post("Profiler.stop")
      .then(({ profile }) => send({ type: message.type, id: message.id, profile: JSON.stringify(profile) }));
    return;
  }
  if (message.type === "statements") {
    send({ type: "statements", id: message.id, stats: [...statementTrace()] });
  } else if (message.type === "requests") {
    send({ type: "requests", id: message.id, counts: Object.fromEntries(requests) });
  } else if (message.type === "cpu") {
    const usage = process.cpuUsage();
    send({ type: "cpu", id: message.id, userUs: usage.user, systemUs: usage.system });
  } else if (message.type === "stop") {
    // A bound on the close, should it ever wait on a socket: the bench ends either way (the exit still
    // writes a --cpu-prof).
    setTimeout(() => process.exit(0), 2000).unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
send({ type: "ready", url: server.url });
