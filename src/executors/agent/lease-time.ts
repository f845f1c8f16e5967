import type { OperationPayload } from "../../rollout/operation.js";

/** Time for the host's own work beyond the health checks: download, snapshot, dpkg, read-back. */
export const LEASE_BASE_MS = 5 * 60_000;

/**
 * How long a host holds an operation before it counts as lost without a result: the base plus the
 * longest the health checks may take (every try times out and waits its interval). Each progress
 * report renews it, so a slow host that keeps reporting is not declared lost; a silent agent is
 * caught sooner by its missing heartbeats.
 */
export function leaseTtlMs(payload: Pick<OperationPayload, "healthChecks">): number {
  let checks = 0;
  for (const c of payload.healthChecks) checks += (c.retries + 1) * (c.timeoutMs + c.intervalMs);
  return LEASE_BASE_MS + checks;
}
