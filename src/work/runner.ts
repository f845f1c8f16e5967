import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ServiceContext } from "../service/context.js";
import { claimDue, type WorkRow } from "./claim.js";
import { recordFailure, runClaimed } from "./run-claimed.js";
import type { WorkKind } from "./work-kind.js";

/** An item whose run failed; it stays owed and is retried after a backoff. */
export interface WorkFailure {
  kind: string;
  key: string;
  error: unknown;
}

export interface PassResult {
  /** Items claimed in the pass: zero means nothing of these kinds was due and free. */
  claimed: number;
  done: number;
  failures: WorkFailure[];
}

/** A name for a runner's leases that tells which process holds them. */
export function runnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}

export interface RunnerOptions {
  /** The lease owner's name; a new runnerId() by default. */
  owner?: string;
  /**
   * Leaves items owed less than this long ago to the process that owes them, which does them right
   * after its commit; the work loop takes them when that process did not (it crashed or failed).
   */
  graceMs?: number;
}

/**
 * Claims and runs owed work under one lease owner. Each pass takes one batch per kind; a batch that
 * fails is retried item by item at once, so one item that always fails does not hold back the rest.
 */
export class WorkRunner {
  readonly owner: string;
  readonly #ctx: ServiceContext;
  readonly #kinds: readonly WorkKind[];
  readonly #graceMs: number;

  constructor(ctx: ServiceContext, kinds: readonly WorkKind[], options: RunnerOptions = {}) {
    this.#ctx = ctx;
    this.#kinds = kinds;
    this.owner = options.owner ?? runnerId();
    this.#graceMs = Math.max(0, options.graceMs ?? 0);
  }

  async pass(signal?: AbortSignal): Promise<PassResult> {
    const result: PassResult = { claimed: 0, done: 0, failures: [] };
    for (const kind of this.#kinds) {
      if (signal?.aborted) break;
      const now = this.#ctx.now();
      const rows = await claimDue(this.#ctx, {
        kind: kind.name,
        owner: this.owner,
        now,
        limit: kind.batch,
        leaseMs: kind.leaseMs,
        dueBy: new Date(now.getTime() - this.#graceMs),
      });
      result.claimed += rows.length;
      if (rows.length === 0) continue;
      const whole = await this.#attempt(kind, rows);
      if (whole.ok) {
        result.done += whole.done;
        continue;
      }
      if (rows.length === 1) {
        await this.#failed(kind, rows, whole.error, result);
        continue;
      }
      for (const row of rows) {
        const alone = await this.#attempt(kind, [row]);
        if (alone.ok) result.done += alone.done;
        else await this.#failed(kind, [row], alone.error, result);
      }
    }
    return result;
  }

  async #attempt(
    kind: WorkKind,
    rows: readonly WorkRow[],
  ): Promise<{ ok: true; done: number } | { ok: false; error: unknown }> {
    try {
      const outcome = await runClaimed(this.#ctx, kind, this.owner, rows, this.#ctx.now());
      return { ok: true, done: outcome.done.length };
    } catch (error) {
      return { ok: false, error };
    }
  }

  async #failed(kind: WorkKind, rows: readonly WorkRow[], error: unknown, result: PassResult): Promise<void> {
    this.#ctx.logger.warn(
      { err: error, kind: kind.name, keys: rows.map((r) => r.key).slice(0, 20) },
      "owed work failed; it is retried later",
    );
    await recordFailure(this.#ctx, rows, this.owner, error, this.#ctx.now());
    for (const row of rows) result.failures.push({ kind: kind.name, key: row.key, error });
  }

  /**
   * Passes while they get work done: until nothing of these kinds is due and free, or a pass did
   * nothing of what it claimed (it failed, or another runner holds it), or the signal aborts.
   */
  async drain(signal?: AbortSignal): Promise<PassResult> {
    const total: PassResult = { claimed: 0, done: 0, failures: [] };
    for (;;) {
      const pass = await this.pass(signal);
      total.claimed += pass.claimed;
      total.done += pass.done;
      total.failures.push(...pass.failures);
      if (pass.done === 0 || signal?.aborted) return total;
    }
  }
}
