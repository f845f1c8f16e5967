import type { Kysely } from "kysely";
import type { ServiceContext } from "../service/context.js";
import type { Database } from "../store/schema.js";

/** One owed item as a kind's `run` sees it. */
export interface WorkItem<P> {
  id: string;
  key: string;
  payload: P;
  /** Failed runs before this one. */
  attempts: number;
}

/**
 * A kind of owed work: what a commit records (a key and a payload) and how the work loop does it.
 * `run` gets the transaction that also deletes the items, so the work's effect and the end of the
 * debt commit together, or neither does.
 */
export interface WorkKind<P = unknown> {
  /** Stable: stored in every owed row of this kind. */
  readonly name: string;
  /** Items done together in one transaction; 1 for work that must run alone. */
  readonly batch: number;
  /** How long a claim keeps other runners off the items before they count as abandoned. */
  readonly leaseMs: number;
  /** Reads a stored payload back, throwing when it is not one of this kind's. */
  parse(payload: unknown): P;
  run(
    trx: Kysely<Database>,
    items: ReadonlyArray<WorkItem<P>>,
    ctx: ServiceContext,
    now: Date,
  ): Promise<void>;
}
