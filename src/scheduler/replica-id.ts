import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

/**
 * A name for this process among the replicas sharing one store: the host and pid say where it runs
 * (for operators reading a lease), the UUID keeps a restarted process with a reused pid apart.
 */
export function replicaId(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}
