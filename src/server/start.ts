import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { bootstrapAdminToken } from "../auth/tokens.js";
import { ValidationError } from "../domain/errors.js";
import { SYSTEM_ACTOR } from "../domain/roles.js";
import { markStaleAssets } from "../inventory/agents.js";
import { DEFAULT_SERVICE_CONFIG, type ServiceConfig, type ServiceContext } from "../service/context.js";
import { DEFAULT_DATABASE_URL, openStore } from "../store/store.js";
import { buildApp } from "./app.js";

export interface ServerOptions {
  databaseUrl?: string;
  /** HOST:PORT; port 0 picks a free port. Default 127.0.0.1:8080. */
  listen?: string;
  /** The admin token to create on first start (AUTOPATCH_ADMIN_TOKEN); random when absent. */
  adminToken?: string;
  config?: Partial<ServiceConfig>;
  logger: Logger;
}

export interface RunningServer {
  url: string;
  ctx: ServiceContext;
  app: FastifyInstance;
  /** Set only on the first start of an empty store: print it once. */
  bootstrapToken: string | null;
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
  const store = await openStore(options.databaseUrl ?? DEFAULT_DATABASE_URL);
  const ctx: ServiceContext = {
    store,
    logger: options.logger,
    config: { ...DEFAULT_SERVICE_CONFIG, ...options.config },
    now: () => new Date(),
  };
  try {
    const bootstrap = await bootstrapAdminToken(ctx, options.adminToken);
    const app = await buildApp(ctx);
    const address = await app.listen({ host, port });
    const sweeper = startStaleSweeper(ctx);
    return {
      url: address,
      ctx,
      app,
      bootstrapToken: bootstrap && options.adminToken === undefined ? bootstrap.token : null,
      close: async () => {
        sweeper.stop();
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Every replica may run this: marking is conditional, so an asset is marked and audited once. */
function startStaleSweeper(ctx: ServiceContext): { stop(): void } {
  const every = Math.max(1000, Math.floor(ctx.config.heartbeatIntervalMs / 2));
  const timer = setInterval(() => {
    markStaleAssets(ctx, SYSTEM_ACTOR)
      .then((marked) => {
        if (marked.length > 0) ctx.logger.warn({ assets: marked }, "assets marked stale");
      })
      .catch((err: unknown) => ctx.logger.error({ err }, "stale sweep failed"));
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
