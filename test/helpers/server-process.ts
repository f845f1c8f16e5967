import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH } from "../../src/localfleet/fleet.js";

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** The server process's resident memory now, from /proc (Linux). */
  rssBytes(): number;
  stop(): Promise<void>;
}

/** `autopatch server` (the built CLI) as its own process on a SQLite store in `dir`, on a free port. */
export function spawnServer(dir: string, adminToken: string): Promise<ServerProcess> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AUTOPATCH_")));
  const child = spawn(process.execPath, [CLI_PATH, "server", "--listen", "127.0.0.1:0"], {
    env: {
      ...base,
      AUTOPATCH_DATABASE_URL: `sqlite:${join(dir, "autopatch.db")}`,
      AUTOPATCH_ADMIN_TOKEN: adminToken,
      AUTOPATCH_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the server did not start:\n${log}`));
    }, 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      for (const line of log.split("\n")) {
        if (!line.includes('"server listening"')) continue;
        clearTimeout(timer);
        child.stderr?.removeAllListeners("data");
        child.stderr?.resume();
        const url = (JSON.parse(line) as { url: string }).url;
        resolve({
          url,
          child,
          rssBytes: () => {
            const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
            return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
          },
          stop,
        });
        return;
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${log}`));
    });
  });
}
