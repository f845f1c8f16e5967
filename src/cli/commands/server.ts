import type { Command } from "commander";
import { startServer } from "../../server/start.js";
import { createLogger } from "../../service/logger.js";
import { DEFAULT_DATABASE_URL } from "../../store/store.js";
import { collectList, parseDurationFlag, webhookAllowEntries } from "../common.js";

interface ServerFlags {
  listen: string;
  heartbeatInterval: string;
  staleAfter: string;
  webhookAllow?: string[];
}

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .summary("Run the API server")
    .description(
      "Run the API server (migrates the store on start).\n" +
        "Store: $AUTOPATCH_DATABASE_URL, sqlite:<path> (default sqlite:./autopatch.db) or postgres://…\n" +
        "First start on an empty store prints an admin token once (or uses $AUTOPATCH_ADMIN_TOKEN).\n" +
        "$AUTOPATCH_HOLD_WORK=1 leaves owed work (re-matches after imports) queued, for crash tests.",
    )
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8080")
    .option("--heartbeat-interval <duration>", "how often agents heartbeat", "30s")
    .option("--stale-after <n>", "missed heartbeats before an asset is marked stale", "3")
    .option(
      "--webhook-allow <cidr|host>",
      "a private or loopback webhook destination to allow; repeatable (default $AUTOPATCH_WEBHOOK_ALLOW, comma-separated)",
      collectList,
    )
    .action(async (flags: ServerFlags) => {
      const logger = createLogger();
      const server = await startServer({
        databaseUrl: process.env.AUTOPATCH_DATABASE_URL ?? DEFAULT_DATABASE_URL,
        listen: flags.listen,
        ...(process.env.AUTOPATCH_ADMIN_TOKEN ? { adminToken: process.env.AUTOPATCH_ADMIN_TOKEN } : {}),
        config: {
          heartbeatIntervalMs: parseDurationFlag(flags.heartbeatInterval, "--heartbeat-interval"),
          staleAfterMissed: Math.max(1, Number.parseInt(flags.staleAfter, 10) || 3),
          holdWork: process.env.AUTOPATCH_HOLD_WORK === "1",
          webhookAllow: webhookAllowEntries(flags.webhookAllow),
        },
        logger,
      });
      if (server.bootstrapToken) {
        // Printed once on stdout, never logged: it is the only copy.
        process.stdout.write(`Admin token (shown once, keep it safe): ${server.bootstrapToken}\n`);
      }
      logger.info({ url: server.url, store: server.ctx.store.displayUrl }, "server listening");
      await waitForSignal();
      logger.info("shutting down");
      await server.close();
    });
}

export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
