import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { type AuditCheckpointer, openCheckpointer } from "../audit/checkpointer.js";
import { type AuditLocations, auditLocations } from "../audit/locations.js";
import { loadSigningKey } from "../audit/signing-key.js";
import { bootstrapAdminToken } from "../auth/tokens.js";
import { enqueueStartingSoon } from "../changes/reminders.js";
import { ValidationError } from "../domain/errors.js";
import { SYSTEM_ACTOR } from "../domain/roles.js";
import { reconcileOnce } from "../engine/reconcile.js";
import { markStaleAssets } from "../inventory/agents.js";
import { startOutboxWorker } from "../notify/worker.js";
import { parseWebhookAllowList } from "../policy/webhook-destination.js";
import { startDueChanges } from "../rollout/starter.js";
import { type ServiceConfig, type ServiceContext, serviceContext } from "../service/context.js";
import { DEFAULT_DATABASE_URL, openStore } from "../store/store.js";
import { startWorkLoop } from "../work/loop.js";
import { buildApp } from "./app.js";
import { serverWorkRegistry } from "./work-kinds.js";

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

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

export interface RunningServer {
  url: string;
  ctx: ServiceContext;
  app: FastifyInstance;
  /** Set only on the first start of an empty store: print it once. */
  bootstrapToken: string | null;
  checkpointer: AuditCheckpointer;
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
  const store = await openStore(databaseUrl);
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
    const checkpoints = startCheckpointLoop(
      ctx,
      checkpointer,
      Math.max(1000, options.audit?.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS),
    );
    const loops = [startStaleSweeper(ctx), startReminderLoop(ctx), checkpoints];
    const replicaId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    const engine = [startRolloutStarter(ctx), startRolloutEngine(ctx, replicaId)];
    const outbox = startOutboxWorker(ctx);
    // Resumes the work owed by commits before a restart; with holdWork it stays owed (tests).
    const work = ctx.config.holdWork === true ? null : startWorkLoop(ctx, serverWorkRegistry());
    return {
      url: address,
      ctx,
      app,
      bootstrapToken: bootstrap && options.adminToken === undefined ? bootstrap.token : null,
      checkpointer,
      close: async () => {
        for (const loop of loops) loop.stop();
        await Promise.all(engine.map((loop) => loop.stop()));
        await Promise.all([outbox.stop(), work?.stop()]);
        await app.close();
        // The events of the last minutes are signed too, not only those before the last interval.
        await checkpointPass(ctx, checkpointer);
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * A background loop that every replica may run: each pass is safe to repeat (conditional updates,
 * idempotent enqueues). A pass still running when the next is due is not started twice.
 */
function startLoop(
  ctx: ServiceContext,
  name: string,
  everyMs: number,
  pass: () => Promise<void>,
): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    pass()
      .catch((err: unknown) => ctx.logger.error({ err, loop: name }, "background pass failed"))
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Signs the head when it moved; a broken chain is logged loudly and left unsigned. */
async function checkpointPass(ctx: ServiceContext, checkpointer: AuditCheckpointer): Promise<void> {
  try {
    const signed = await checkpointer.checkpointIfMoved();
    if (signed) ctx.logger.debug({ seq: signed.checkpoint.seq }, "audit checkpoint written");
  } catch (err) {
    ctx.logger.error({ err }, "audit checkpoint refused: the chain does not extend the last checkpoint");
  }
}

/** Writes a checkpoint now (the first start signs the existing chain) and then at every interval. */
function startCheckpointLoop(
  ctx: ServiceContext,
  checkpointer: AuditCheckpointer,
  everyMs: number,
): { stop(): void } {
  void checkpointPass(ctx, checkpointer);
  return startLoop(ctx, "audit-checkpoint", everyMs, () => checkpointPass(ctx, checkpointer));
}

function startStaleSweeper(ctx: ServiceContext): { stop(): void } {
  return startLoop(
    ctx,
    "stale-sweep",
    Math.max(1000, Math.floor(ctx.config.heartbeatIntervalMs / 2)),
    async () => {
      const marked = await markStaleAssets(ctx, SYSTEM_ACTOR);
      if (marked.length > 0) ctx.logger.warn({ assets: marked }, "assets marked stale");
    },
  );
}

/** Enqueues "starting soon" notifications at each scheduled change's lead time. */
function startReminderLoop(ctx: ServiceContext): { stop(): void } {
  return startLoop(ctx, "starting-soon", 15_000, async () => {
    const enqueued = await enqueueStartingSoon(ctx);
    if (enqueued > 0) ctx.logger.info({ enqueued }, "starting-soon notifications enqueued");
  });
}

/**
 * A loop that runs `pass` every `everyMs` until stopped; stopping aborts the signal and waits for the
 * pass in flight, so the store is not closed under it.
 */
function startAbortableLoop(
  ctx: ServiceContext,
  name: string,
  everyMs: number,
  pass: (signal: AbortSignal) => Promise<void>,
): { stop(): Promise<void> } {
  const controller = new AbortController();
  let inFlight: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (inFlight !== null || controller.signal.aborted) return;
    inFlight = pass(controller.signal)
      .catch((err: unknown) => ctx.logger.error({ err, loop: name }, "background pass failed"))
      .finally(() => {
        inFlight = null;
      });
  }, everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      controller.abort();
      await inFlight;
    },
  };
}

/** Starts the scheduled changes that are due (every replica may: the start is one conditional write). */
function startRolloutStarter(ctx: ServiceContext): { stop(): Promise<void> } {
  return startAbortableLoop(ctx, "rollout-starter", Math.max(100, ctx.config.enginePassMs), async () => {
    const report = await startDueChanges(ctx);
    if (report.started.length > 0) ctx.logger.info({ rollouts: report.started }, "rollouts started");
  });
}

/** Reconciles the rollouts this replica holds the lease of. */
function startRolloutEngine(ctx: ServiceContext, replicaId: string): { stop(): Promise<void> } {
  return startAbortableLoop(ctx, "rollout-engine", Math.max(50, ctx.config.enginePassMs), async (signal) => {
    await reconcileOnce(ctx, replicaId, { signal });
  });
}
