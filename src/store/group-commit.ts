import type { ControlledTransaction, Kysely } from "kysely";
import type { Database } from "./schema.js";

type Work = (trx: Kysely<Database>) => Promise<unknown>;

interface Pending {
  work: Work;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit for SQLite: writes that arrive while a transaction is being committed run together in
 * the next one, each inside its own savepoint. A failing write rolls back to its savepoint and fails
 * alone; the others commit. Every write still commits with its own audit event in one transaction
 * (invariant 4) — just not in a transaction of its own.
 *
 * Why: inventory reports of a fleet touch the same index pages (every host has the same package
 * names), so SQLite's single writer spends most of a one-report commit rewriting pages that the next
 * report rewrites again. Committing many reports at once writes those pages once.
 */
export class GroupCommit {
  readonly #db: Kysely<Database>;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #running = false;

  constructor(db: Kysely<Database>, maxBatch = 64) {
    this.#db = db;
    this.#maxBatch = maxBatch;
  }

  run<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      // setImmediate lets the requests that are already readable join the same batch.
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      await this.#commit(batch);
      if (this.#queue.length > 0) await new Promise((r) => setImmediate(r));
    }
    this.#running = false;
  }

  async #commit(batch: Pending[]): Promise<void> {
    let trx: ControlledTransaction<Database>;
    try {
      trx = await this.#db.startTransaction().execute();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    const done: Array<{ pending: Pending; value: unknown }> = [];
    try {
      for (const pending of batch) {
        const sp = await trx.savepoint("write").execute();
        try {
          const value = await pending.work(sp);
          await sp.releaseSavepoint("write").execute();
          done.push({ pending, value });
        } catch (err) {
          await sp.rollbackToSavepoint("write").execute();
          await sp.releaseSavepoint("write").execute();
          pending.reject(err);
        }
      }
      await trx.commit().execute();
    } catch (err) {
      if (!trx.isCommitted && !trx.isRolledBack)
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
      for (const { pending } of done) pending.reject(err);
      return;
    }
    for (const { pending, value } of done) pending.resolve(value);
  }
}
