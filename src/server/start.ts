import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { type AuditCheckpointer, openCheckpointer } from "../audit/checkpointer.js";
import { type AuditLocations, auditLocations } from "../audit/locations.js";
import { loadSigningKey } from "../audit/signing-key.js";
import { flushTokenUses } from "../auth/last-used.js";
import { bootstrapAdminToken } from "../auth/tokens.js";
import { ValidationError } from "../domain/errors.js";
import { parseWebhookAllowList } from "../policy/webhook-destination.js";
import { Scheduler } from "../scheduler/scheduler.js";
import { type ServiceConfig, type ServiceContext, serviceContext } from "../service/context.js";
import { DEFAULT_DATABASE_URL, openStore } from "../store/store.js";
import { buildApp } from "./app.js";
import { registerEngineLoops } from "./engine-loops.js";
import { trackIdleSockets } from "./idle-sockets.js";
import { checkpointPass, registerServerLoops } from "./loops.js";

export interface ServerOptions {
  databaseUrl?: string;
  /** HOST:PORT; port 0 picks a free port. Default 127.0.0.1:8080. */
  listen?: string;
  /** The admin token to create on first start (AUTOPATCH_ADMIN_TOKEN); random when absent. */
  adminToken?: string;
  config?: Partial<ServiceConfig>;
  /** The checkpoint signing key and log; by default beside the SQLite file or in the state directory. */
  audit?: Partial<AuditLocations> & {
    /** How often the head is signed when it moved (default 5 minutes). */
    checkpointIntervalMs?: number;
  };
  logger: Logger;
}

export interface RunningServer {
  url: string;
  ctx: ServiceContext;
  app: FastifyInstance;
  /** Set only on the first start of an empty store: print it once. */
  bootstrapToken: string | null;
  checkpointer: AuditCheckpointer;
  /** Runs every background loop; its metrics() are each loop's last run and duration. */
  scheduler: Scheduler;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port >= 0 && port <= 65535)) {
    throw new ValidationError(`--listen "${listen}" is not HOST:PORT (e.g. 127.0.0.1:8080)`, {
      where: "--listen",
    });
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

/** Opens the store (migrating it), creates the first admin token if needed, listens, and runs the
 * background loops until closed. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen ?? "127.0.0.1:8080");
  const databaseUrl = options.databaseUrl ?? DEFAULT_DATABASE_URL;
  // A bad allow-list entry stops the start here rather than at the first policy or delivery.
  parseWebhookAllowList(options.config?.webhookAllow ?? []);
  // The key is checked before the store is opened: a server that cannot sign checkpoints does not start.
  const locations = auditLocations(databaseUrl, options.audit);
  const key = loadSigningKey(locations.keyFile, { create: true });
  const store = await openStore(databaseUrl, { logger: options.logger });
  const ctx = serviceContext(store, options.logger, options.config);
  try {
    const checkpointer = await openCheckpointer({
      db: store.db,
      key,
      logPath: locations.checkpointLog,
      now: ctx.now,
    });
    const bootstrap = await bootstrapAdminToken(ctx, options.adminToken);
    const app = await buildApp(ctx, { checkpointer });
    const address = await app.listen({ host, port });
    const sockets = trackIdleSockets(app.server);
    const scheduler = new Scheduler({ logger: ctx.logger, store });
    registerServerLoops(scheduler, ctx, {
      checkpointer,
      ...(options.audit?.checkpointIntervalMs === undefined
        ? {}
        : { checkpointIntervalMs: options.audit.checkpointIntervalMs }),
    });
    registerEngineLoops(scheduler, ctx);
    scheduler.start();
    return {
      url: address,
      ctx,
      app,
      bootstrapToken: bootstrap && options.adminToken === undefined ? bootstrap.token : null,
      checkpointer,
      scheduler,
      close: async () => {
        // The API stops at once (waiting long-polls answered 204, idle keep-alive sockets closed) while
        // the passes in flight end (aborted): an agent must not wait on the engine to learn to go away.
        const api = app.close();
        sockets.closeIdle();
        await Promise.all([api, scheduler.stop()]);
        // The events of the last minutes are signed too, not only those before the last interval.
        await checkpointPass(ctx, checkpointer);
        await flushTokenUses(store);
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
