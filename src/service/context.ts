import type { Logger } from "pino";
import type { Store } from "../store/store.js";

export interface ServiceConfig {
  /** How often agents are asked to heartbeat. */
  heartbeatIntervalMs: number;
  /** An asset is stale after this many missed heartbeats. */
  staleAfterMissed: number;
  /**
   * Leaves owed work (the re-match after an import) queued instead of doing it: imports return once
   * committed and the server runs no work loop. For crash-recovery tests ($AUTOPATCH_HOLD_WORK=1).
   */
  holdWork?: boolean;
  /** Private or loopback webhook destinations allowed all the same: CIDR ranges, addresses, host names. */
  webhookAllow: readonly string[];
  /** How often the rollout engine reconciles each rollout (its leases last three times as long). */
  enginePassMs: number;
}

export const DEFAULT_SERVICE_CONFIG: ServiceConfig = {
  heartbeatIntervalMs: 30_000,
  staleAfterMissed: 3,
  webhookAllow: [],
  enginePassMs: 1000,
};

/** What every service function needs. The REST API, the CLI and the dashboard all go through it. */
export interface ServiceContext {
  store: Store;
  logger: Logger;
  config: ServiceConfig;
  now: () => Date;
}

/** A context on the real clock with the default configuration, overridden where given. */
export function serviceContext(
  store: Store,
  logger: Logger,
  config: Partial<ServiceConfig> = {},
): ServiceContext {
  return { store, logger, config: { ...DEFAULT_SERVICE_CONFIG, ...config }, now: () => new Date() };
}
