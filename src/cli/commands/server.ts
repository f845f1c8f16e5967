import type { Command } from "commander";
import { startServer } from "../../server/start.js";
import { createLogger } from "../../service/logger.js";
import { DEFAULT_DATABASE_URL } from "../../store/store.js";
import { collectList, parseDurationFlag, webhookAllowEntries } from "../common.js";
import { onShutdown } from "../graceful.js";

interface ServerFlags {
  listen: string;
  heartbeatInterval: string;
  staleAfter: string;
  webhookAllow?: string[];
}

interface ServerFlags {
  listen: string;
  heartbeatInterval: string;
  staleAfter: string;
  auditKey?: string;
  auditCheckpointLog?: string;
  auditCheckpointInterval: string;
  enginePass: string;
}

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .summary("Run the API server")
    .description(
      "Run the API server (migrates the store on start).\n" +
        "Store: $AUTOPATCH_DATABASE_URL, sqlite:<path> (default sqlite:./autopatch.db) or postgres://…\n" +
        "First start on an empty store prints an admin token once (or uses $AUTOPATCH_ADMIN_TOKEN).\n" +
        "$AUTOPATCH_HOLD_WORK=1 leaves owed work (re-matches after imports) queued, for crash tests.\n" +
        "Audit checkpoints are signed with an ed25519 key file (mode 0600, created on first start) and\n" +
        "appended to a checkpoint log, both beside a SQLite file or else in $AUTOPATCH_STATE_DIR.",
    )
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8080")
    .option("--heartbeat-interval <duration>", "how often agents heartbeat", "30s")
    .option("--stale-after <n>", "missed heartbeats before an asset is marked stale", "3")
    .option("--engine-pass <duration>", "how often the rollout engine reconciles (its leases last 3×)", "1s")
    .option(
      "--webhook-allow <cidr|host>",
      "a private or loopback webhook destination to allow; repeatable (default $AUTOPATCH_WEBHOOK_ALLOW, comma-separated)",
      collectList,
    )
    .option(
      "--audit-key <file>",
      "checkpoint signing key (default: $AUTOPATCH_AUDIT_KEY, else beside the store)",
    )
    .option(
      "--audit-checkpoint-log <file>",
      "where signed checkpoints are appended (default: $AUTOPATCH_AUDIT_CHECKPOINT_LOG, else beside the key)",
    )
    .option("--audit-checkpoint-interval <duration>", "how often the head is signed when it moved", "5m")
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
          enginePassMs: Math.max(10, parseDurationFlag(flags.enginePass, "--engine-pass")),
        },
        audit: {
          ...(flags.auditKey ? { keyFile: flags.auditKey } : {}),
          ...(flags.auditCheckpointLog ? { checkpointLog: flags.auditCheckpointLog } : {}),
          checkpointIntervalMs: parseDurationFlag(
            flags.auditCheckpointInterval,
            "--audit-checkpoint-interval",
          ),
        },
        logger,
      });
      if (server.bootstrapToken) {
        // Printed once on stdout, never logged: it is the only copy.
        process.stdout.write(`Admin token (shown once, keep it safe): ${server.bootstrapToken}\n`);
      }
      logger.info({ url: server.url, store: server.ctx.store.displayUrl }, "server listening");
      // Stops accepting, finishes in-flight requests and loops, then exits (close-with-grace).
      onShutdown(logger, async ({ signal }) => {
        logger.info({ signal }, "shutting down");
        await server.close();
      });
    });
}

/** Resolves on the first SIGINT or SIGTERM (the demo waits with it). */
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
