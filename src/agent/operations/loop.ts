import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { z } from "zod";
import type { ApiClient } from "../../client/api-client.js";
import { AGENT_BACKOFF, backoffFor } from "../../domain/backoff.js";
import { AppError } from "../../domain/errors.js";
import type { OperationStep } from "../../rollout/model.js";
import {
  type LeasedOperation,
  leasedOperationSchema,
  type OperationResult,
} from "../../rollout/operation.js";
import { type InventoryDeltaReport, POLL_HEARTBEAT_HEADER, type reportSummarySchema } from "../protocol.js";
import { ArtifactFetcher } from "./artifacts.js";
import { OperationJournal } from "./journal.js";
import { ProgressReporter } from "./progress.js";
import { runOperation } from "./runner.js";

/** How long one long-poll asks the server to hold the request when it has nothing for this host. */
export const LONG_POLL_WAIT_MS = 25_000;

export interface OperationLoopOptions {
  client: ApiClient;
  stateDir: string;
  /** The host's root: "/" or a private dpkg root. */
  root: string;
  /** The server's public key (PEM) pinned at enrollment. */
  serverPublicKey: string | undefined;
  logger: Logger;
  signal: AbortSignal;
  /**
   * The longest wait between retries: the heartbeat interval the server asks for, so that after a
   * server restart this host takes its operations again as soon as it heartbeats again.
   */
  retryCapMs?: () => number;
  /** How long a long-poll asks the server to wait (LONG_POLL_WAIT_MS when omitted). */
  pollWaitMs?: () => number;
  /**
   * Sends the host's inventory; called after an operation and before its result, so that when the
   * server hears an operation ended, its inventory already shows what the host has (a change planned
   * the moment a rollback ends must not see the patched version). A failure here is logged: the
   * heartbeats send the inventory again.
   */
  syncInventory?: () => Promise<void>;
  /**
   * An operation began (true) or its result was delivered (false): meanwhile the result carries the
   * inventory, so the heartbeats need not send it on their own.
   */
  onBusy?: (busy: boolean) => void;
  /** The server recorded a poll's answer as this agent's heartbeat (POLL_HEARTBEAT_HEADER). */
  onPollHeartbeat?: () => void;
  /**
   * Sends the result with the inventory's changes in its body, when the server offers that with the
   * operation (`inventoryInResult`): `post` sends the result with the delta given. True once the
   * server has both; false or a rejection falls back to syncInventory, then the result alone.
   */
  sendWithInventory?: (
    post: (inventory: InventoryDeltaReport | undefined) => Promise<{ inventory?: ReportSummary }>,
  ) => Promise<boolean>;
}

type ReportSummary = z.infer<typeof reportSummarySchema>;

const backoffMs = (failures: number, capMs = Number.POSITIVE_INFINITY) =>
  Math.min(capMs, backoffFor(failures, AGENT_BACKOFF));

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** A 4xx other than a refused credential: the server will not take this request, however often sent. */
function isRefusal(err: unknown): err is AppError {
  return err instanceof AppError && err.status >= 400 && err.status < 500 && err.code !== "unauthenticated";
}

/**
 * Sends the result until the server has it. The journal holds it meanwhile, so if the agent stops
 * first, the server re-issues the operation and gets the same result back (`replayed`).
 */
async function report(
  options: OperationLoopOptions,
  op: LeasedOperation,
  result: OperationResult,
): Promise<void> {
  let failures = 0;
  while (!options.signal.aborted) {
    try {
      await options.client.post(`/api/v1/agent/operations/${encodeURIComponent(op.id)}/result`, result);
      return;
    } catch (err) {
      if (isRefusal(err)) {
        // Cancelled, or its lease given to nobody else but expired: the server decides what it was.
        options.logger.warn(
          { key: op.key, err: err.message, reason: err.reason },
          "the server refused the result",
        );
        return;
      }
      if (err instanceof AppError && err.code === "unauthenticated") throw err;
      failures += 1;
      options.logger.warn(
        { key: op.key, err: (err as Error).message, failures },
        "result not delivered; retrying",
      );
      await pause(backoffMs(failures, options.retryCapMs?.()), options.signal);
    }
  }
}

/** One try of the result with the inventory in it; false when the caller must send them apart. */
async function withInventory(
  options: OperationLoopOptions,
  op: LeasedOperation,
  result: OperationResult,
): Promise<boolean> {
  if (!options.sendWithInventory) return false;
  const url = `/api/v1/agent/operations/${encodeURIComponent(op.id)}/result`;
  try {
    return await options.sendWithInventory((inventory) =>
      options.client.post<{ inventory?: ReportSummary }>(url, inventory ? { ...result, inventory } : result),
    );
  } catch (err) {
    if (err instanceof AppError && err.code === "unauthenticated") throw err;
    // A delta the server's set does not fit (409), or no answer: the inventory goes on its own first.
    options.logger.info(
      { key: op.key, err: (err as Error).message },
      "result with inventory not taken; sending them apart",
    );
    return false;
  }
}

const artifactDir = (stateDir: string): string => join(stateDir, "artifacts");

/**
 * The agent's operation loop: long-polls the server for an operation of this host, runs it (one at a
 * time), reports the result, and polls again. Runs beside the heartbeat loop until the signal aborts;
 * an operation in flight then ends at its next check, unreported, and is re-examined after a restart.
 */
export async function runOperationLoop(options: OperationLoopOptions): Promise<void> {
  const { client, logger, signal } = options;
  const journal = await OperationJournal.open(options.stateDir);
  // Downloads go there: made once at start rather than found missing by an operation's first one.
  await mkdir(artifactDir(options.stateDir), { recursive: true, mode: 0o700 });
  const host = { root: options.root, keepDir: join(options.stateDir, "snapshots") };
  let failures = 0;
  try {
    while (!signal.aborted) {
      let leased: unknown;
      try {
        leased = await client.request(
          "GET",
          `/api/v1/agent/operations/next?waitMs=${options.pollWaitMs?.() ?? LONG_POLL_WAIT_MS}`,
          undefined,
          {
            signal,
            onHeaders: (headers) => {
              if (headers[POLL_HEARTBEAT_HEADER] === "1") options.onPollHeartbeat?.();
            },
          },
        );
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof AppError && err.code === "unauthenticated") throw err;
        failures += 1;
        logger.warn({ err: (err as Error).message, failures }, "waiting for operations failed; retrying");
        await pause(backoffMs(failures, options.retryCapMs?.()), signal);
        continue;
      }
      failures = 0;
      if (leased === undefined) continue; // 204: nothing for this host within the wait
      const parsed = leasedOperationSchema.safeParse(leased);
      if (!parsed.success) {
        logger.error(
          { issues: parsed.error.issues.slice(0, 5) },
          "the server sent an operation this agent cannot read",
        );
        await pause(backoffMs(1), signal);
        continue;
      }
      const op = parsed.data;
      options.onBusy?.(true);
      try {
        await runLeased(options, op, journal, host);
      } finally {
        options.onBusy?.(false);
      }
    }
  } finally {
    await journal.close();
  }
}

/** Runs one leased operation and delivers its result. */
async function runLeased(
  options: OperationLoopOptions,
  op: LeasedOperation,
  journal: OperationJournal,
  host: { root: string; keepDir: string },
): Promise<void> {
  const { client, logger, signal } = options;
  const fetcher = new ArtifactFetcher(
    client,
    artifactDir(options.stateDir),
    options.serverPublicKey,
    [...(op.payload.artifact ? [op.payload.artifact] : []), ...op.payload.rollbackArtifacts],
    signal,
  );
  const progress = new ProgressReporter(async (step: OperationStep) => {
    await client
      .post(`/api/v1/agent/operations/${encodeURIComponent(op.id)}/progress`, { step })
      .catch((err: Error) => logger.warn({ key: op.key, step, err: err.message }, "progress not delivered"));
  });
  logger.info({ key: op.key, action: op.action, package: op.payload.package }, "operation started");
  let result: OperationResult;
  try {
    result = await runOperation(op, {
      host,
      journal,
      fetch: fetcher.fetch,
      progress: progress.report,
      logger,
      signal,
    });
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    await progress.finish();
    await fetcher.cleanup();
  }
  logger.info(
    {
      key: op.key,
      ok: result.ok,
      installedVersion: result.installedVersion,
      replayed: result.replayed,
      error: result.error,
    },
    "operation finished",
  );
  if (op.inventoryInResult === true && (await withInventory(options, op, result))) return;
  await options
    .syncInventory?.()
    .catch((err: Error) =>
      logger.warn({ key: op.key, err: err.message }, "inventory not sent before the result"),
    );
  await report(options, op, result);
}
