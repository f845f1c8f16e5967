import type { ControlledTransaction, Kysely } from "kysely";
import { AppError } from "../domain/errors.js";
import type { Database } from "./schema.js";

type Work = (trx: Kysely<Database>) => Promise<unknown>;

interface Pending {
  work: Work;
  /** Runs in a transaction of its own (a long re-match): see GroupCommit.run. */
  alone: boolean;
  settled: boolean;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export interface GroupCommitOptions {
  maxBatch?: number;
  /**
   * Whether the connection is still inside the batch's transaction. SQLite rolls a whole transaction
   * back by itself on some errors (SQLITE_FULL, I/O errors); a later SAVEPOINT would then silently
   * start a new one, and its writes would commit on their own.
   */
  inTransaction?: () => boolean;
}

/**
 * Group commit for SQLite: writes that arrive while a transaction is being committed run together in
 * the next one. A failing write fails alone; the others commit: they run without savepoints first,
 * and after a failure again, each inside its own savepoint (see #commitOptimistically). Every write still commits with its own audit event in one transaction
 * (invariant 4) — just not in a transaction of its own.
 *
 * Every caller gets exactly one outcome: its value once the batch committed, its own error when its
 * work failed, or `store.write-aborted` when the batch's transaction was lost or failed to commit (then
 * nothing of its write was applied and it may be retried).
 *
 * Why: inventory reports of a fleet touch the same index pages (every host has the same package
 * names), so SQLite's single writer spends most of a one-report commit rewriting pages that the next
 * report rewrites again. Committing many reports at once writes those pages once.
 * Hand-written: it batches Kysely transactions with per-write savepoints and audit events, which no
 * maintained library does for both SQLite and PostgreSQL.
 */
export class GroupCommit {
  readonly #db: Kysely<Database>;
  readonly #maxBatch: number;
  readonly #inTransaction: () => boolean;
  #queue: Pending[] = [];
  #running = false;

  constructor(db: Kysely<Database>, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.#inTransaction = options.inTransaction ?? (() => true);
  }

  /** `alone`: the write gets a transaction of its own, so the writes around it neither wait for it nor share its fate. */
  run<T>(work: (trx: Kysely<Database>) => Promise<T>, alone = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, alone, settled: false, resolve: resolve as (value: unknown) => void, reject });
      // setImmediate lets the requests that are already readable join the same batch.
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      try {
        await this.#commit(batch);
      } catch (err) {
        // #commit settles every write itself; this only guards against a defect there hanging callers.
        for (const p of batch) settle(p, "reject", err);
      }
      for (const p of batch) {
        if (!p.settled) settle(p, "reject", aborted(new Error("the write was left unsettled")));
      }
      if (this.#queue.length > 0) await new Promise((r) => setImmediate(r));
    }
    this.#running = false;
  }

  #take(): Pending[] {
    const first = this.#queue[0];
    if (first?.alone) return this.#queue.splice(0, 1);
    const end = this.#queue.findIndex((p, i) => p.alone || i >= this.#maxBatch);
    return this.#queue.splice(0, end === -1 ? this.#queue.length : end);
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (batch[0]?.alone === true) return this.#commitWithSavepoints(batch);
    const rest = await this.#commitOptimistically(batch);
    if (rest.length > 0) await this.#commitWithSavepoints(rest);
  }

  /**
   * Runs the batch without savepoints, and commits it when no write failed. A savepoint costs SQLite a
   * copy of every page a write changes (its sub-journal), which doubled the cost of an inventory
   * report; writes rarely fail, so they run bare first. When one throws, the transaction is rolled
   * back, that write gets its error, and the others are returned to run again, each in its savepoint:
   * as on PostgreSQL, a write may run more than once and must not act outside its transaction.
   */
  async #commitOptimistically(batch: Pending[]): Promise<Pending[]> {
    let trx: ControlledTransaction<Database>;
    try {
      trx = await this.#db.startTransaction().execute();
    } catch (err) {
      for (const p of batch) settle(p, "reject", err);
      return [];
    }
    const values: unknown[] = [];
    let failed: { pending: Pending; error: unknown; lost: boolean } | undefined;
    for (const pending of batch) {
      try {
        values.push(await pending.work(trx));
        if (!this.#inTransaction()) {
          const error = new Error("the transaction was rolled back underneath the write");
          failed = { pending, error, lost: true };
        }
      } catch (error) {
        failed = { pending, error, lost: !this.#inTransaction() };
      }
      if (failed !== undefined) break;
    }
    if (failed === undefined) {
      try {
        await trx.commit().execute();
        batch.forEach((p, i) => {
          settle(p, "resolve", values[i]);
        });
        return [];
      } catch (err) {
        await this.#rollback(trx);
        const error = aborted(err);
        for (const p of batch) settle(p, "reject", error);
        return [];
      }
    }
    await this.#rollback(trx);
    settle(failed.pending, "reject", failed.error);
    if (failed.lost) {
      // As with savepoints: the transaction went with the write, and the whole batch with it.
      const error = aborted(failed.error);
      for (const p of batch) settle(p, "reject", error);
      return [];
    }
    return batch.filter((p) => !p.settled);
  }

  async #rollback(trx: ControlledTransaction<Database>): Promise<void> {
    if (trx.isCommitted || trx.isRolledBack) return;
    // Rolling back also hands the connection back, even when the transaction is gone already.
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
  }

  async #commitWithSavepoints(batch: Pending[]): Promise<void> {
    let trx: ControlledTransaction<Database>;
    try {
      trx = await this.#db.startTransaction().execute();
    } catch (err) {
      for (const p of batch) settle(p, "reject", err);
      return;
    }
    const done: Array<{ pending: Pending; value: unknown }> = [];
    let lost: unknown;
    for (const pending of batch) {
      if (pending.alone) {
        // No savepoint: the transaction is the write's own.
        try {
          done.push({ pending, value: await pending.work(trx) });
          if (!this.#inTransaction())
            lost = new Error("the transaction was rolled back underneath the write");
        } catch (err) {
          settle(pending, "reject", err);
          lost = err;
        }
        break;
      }
      const outcome = await this.#inSavepoint(trx, pending);
      if (outcome.ok) done.push({ pending, value: outcome.value });
      if (outcome.lost !== undefined) {
        lost = outcome.lost;
        break;
      }
    }
    if (lost === undefined) {
      try {
        await trx.commit().execute();
        for (const { pending, value } of done) settle(pending, "resolve", value);
        return;
      } catch (err) {
        lost = err;
      }
    }
    await this.#rollback(trx);
    // Nothing of the batch was applied: the writes that ran, and those that never got to run, fail alike.
    const error = aborted(lost);
    for (const p of batch) settle(p, "reject", error);
  }

  /**
   * Runs one write in a savepoint. `lost` is set when the transaction itself is no longer usable:
   * releasing or rolling back the savepoint failed, or SQLite rolled the whole transaction back.
   */
  async #inSavepoint(
    trx: ControlledTransaction<Database>,
    pending: Pending,
  ): Promise<{ ok: true; value: unknown; lost?: undefined } | { ok: false; lost?: unknown }> {
    let sp: Awaited<ReturnType<ReturnType<ControlledTransaction<Database>["savepoint"]>["execute"]>>;
    try {
      sp = await trx.savepoint("write").execute();
    } catch (err) {
      return { ok: false, lost: err };
    }
    let failure: unknown;
    try {
      const value = await pending.work(sp);
      await sp.releaseSavepoint("write").execute();
      if (this.#inTransaction()) return { ok: true, value };
      failure = new Error("the transaction was rolled back underneath the write");
    } catch (err) {
      failure = err;
    }
    try {
      if (!this.#inTransaction()) throw failure;
      await sp.rollbackToSavepoint("write").execute();
      await sp.releaseSavepoint("write").execute();
    } catch (err) {
      // The write's own error explains the most; the rest of the batch learns the transaction is gone.
      settle(pending, "reject", failure);
      return { ok: false, lost: err };
    }
    settle(pending, "reject", failure);
    return { ok: false };
  }
}

function settle(p: Pending, how: "resolve" | "reject", value: unknown): void {
  if (p.settled) return;
  p.settled = true;
  if (how === "resolve") p.resolve(value);
  else p.reject(value);
}

function aborted(cause: unknown): AppError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new AppError(
    "internal",
    `the write was not committed (its transaction failed: ${why}); nothing of it was applied`,
    { reason: "store.write-aborted", cause },
  );
}
