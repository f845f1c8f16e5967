import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type RunningServer, startServer } from "../../src/server/start.js";
import type { ServiceConfig } from "../../src/service/context.js";

export interface TestServer {
  /** A temp folder for the test's files; the store is `autopatch.db` in it. */
  dir: string;
  server: RunningServer;
  /** AUTOPATCH_SERVER and AUTOPATCH_TOKEN (the admin) for runCli. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A real server on a fresh SQLite store in a temp folder, listening on a free loopback port, configured as given. */
export async function startTestServer(
  name: string,
  adminToken: string,
  config: Partial<ServiceConfig> = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), `autopatch-${name}-`));
  const server = await startServer({
    databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
    listen: "127.0.0.1:0",
    adminToken,
    config,
    logger: pino({ level: "silent" }),
  });
  return {
    dir,
    server,
    env: { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: adminToken },
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
