import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH } from "../../src/localfleet/fleet.js";

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr (its JSON log lines), for failure messages. */
  log(): string;
  /** Sends the signal and waits for the process to end. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM, and waits for the process to end. */
  stop(): Promise<void>;
  /** The server process's resident memory now, from /proc (Linux). */
  rssBytes(): number;
}

/** The environment of a server on a SQLite store in `dir` with a known admin token. */
export function sqliteServerEnv(dir: string, adminToken: string): Record<string, string> {
  return { AUTOPATCH_DATABASE_URL: `sqlite:${join(dir, "autopatch.db")}`, AUTOPATCH_ADMIN_TOKEN: adminToken };
}

/**
 * Runs `autopatch server` from the build (npm run build first) as its own process on a free loopback
 * port, with a clean AUTOPATCH_* environment plus `env`, and resolves once it listens.
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 30_000): Promise<ServerProcess> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AUTOPATCH_")));
  const child = spawn(process.execPath, [CLI_PATH, "server", "--listen", "127.0.0.1:0"], {
    env: { ...base, AUTOPATCH_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = once(child, "exit");
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), timeoutMs);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split("\n")) {
        if (!line.includes('"server listening"')) continue;
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) {
          clearTimeout(timer);
          resolve(parsed.url);
        }
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr}`));
    });
  });
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    child,
    log: () => stderr,
    kill,
    stop: () => kill("SIGTERM"),
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
  };
}
