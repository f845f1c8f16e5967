/** Retry delays with full jitter: notification delivery (5 s up to an hour by default) and the store's transaction retries. */
export const BACKOFF_BASE_MS = 5_000;
export const BACKOFF_CAP_MS = 60 * 60 * 1000;

/**
 * The wait before the next attempt after `failures` failed ones (1 = the first failure), with "full
 * jitter" (a uniform draw between 0 and the capped exponential, as in the AWS Architecture Blog's
 * "Exponential Backoff And Jitter"), so workers that failed together do not retry together.
 */
export function backoffDelayMs(
  failures: number,
  random: () => number = Math.random,
  baseMs: number = BACKOFF_BASE_MS,
  capMs: number = BACKOFF_CAP_MS,
): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  const ceiling = Math.min(capMs, baseMs * 2 ** exponent);
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.floor(draw * ceiling);
}
