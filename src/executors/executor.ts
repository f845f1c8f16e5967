import type { OperationOutcome, OperationSpec } from "../rollout/operation.js";
import type { ServiceContext } from "../service/context.js";

/** Bumped when the interface changes incompatibly; the registry refuses implementations of another. */
export const EXECUTOR_INTERFACE_VERSION = 1;

// What an executor observes is the engine's type (src/rollout): executors build on it.
export type { OperationOutcome } from "../rollout/operation.js";

/**
 * How operations reach hosts. The engine persists an operation (its intent) before it calls
 * `dispatch`, and calls `observe` on every reconcile until the outcome is final; both must be
 * idempotent per operation key, across retries, crashes and replicas (invariant 3).
 *
 * - `agent` (pull): the operation waits in the store for the asset's own agent, which leases it over
 *   a long-poll; no inbound port on hosts.
 * - `ssh` (push, later): runs the same host actions over OpenSSH.
 */
export interface Executor {
  readonly kind: string;
  readonly interfaceVersion: typeof EXECUTOR_INTERFACE_VERSION;
  /** Hands the operation to the host. Called again after a crash: must not start it twice. */
  dispatch(ctx: ServiceContext, op: OperationSpec): Promise<void>;
  /** Reads what became of the operation; detects lost hosts. */
  observe(ctx: ServiceContext, op: OperationSpec): Promise<OperationOutcome>;
  /** Optional: what `observe` says of each, in one read (the engine looks at every open operation each pass). */
  observeAll?(ctx: ServiceContext, ops: readonly OperationSpec[]): Promise<OperationOutcome[]>;
  /** Withdraws an operation no host has started yet (abort, skip); a started one runs to its end. */
  cancel(ctx: ServiceContext, op: OperationSpec): Promise<void>;
}
