import { setTimeout as sleep } from "node:timers/promises";

/**
 * Retry delays with full jitter, and the one retry helper: notification delivery (5 s up to an hour by
 * default), the store's transaction retries, the agent's loops and the API client all wait through here.
 */
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

/** The shape of one kind of retry: the first delay's ceiling, the cap, and the jitter source. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Source of jitter in [0, 1). */
  random?: () => number;
}

/** The agent's retries of an unreachable or failing server: about a second at first, at most 30 s. */
export const AGENT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 30_000 };

/** `backoffDelayMs` for a policy: the wait after `failures` failed attempts. */
export function backoffFor(failures: number, policy: BackoffPolicy): number {
  return backoffDelayMs(failures, policy.random, policy.baseMs, policy.capMs);
}

export interface RetryOptions extends BackoffPolicy {
  /** Attempts in all, the first included (`Infinity` retries until `retryable` says no). */
  attempts: number;
  /** Whether a failure may be retried; the others are thrown at once. */
  retryable: (err: unknown, attempt: number) => boolean;
  /** Ends the waiting between attempts: the last failure is thrown. */
  signal?: AbortSignal;
  /** Told of each failure that is retried, before the wait. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The one retry helper: runs `attempt` until it succeeds, fails with an error `retryable` refuses, has
 * had its attempts, or `signal` ends it; between attempts waits the policy's jittered backoff.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= options.attempts || options.signal?.aborted || !options.retryable(err, n)) throw err;
      const delay = backoffFor(n, options);
      options.onRetry?.(err, n, delay);
      const stopped = await sleep(delay, false, options.signal ? { signal: options.signal } : {}).catch(
        () => true,
      );
      if (stopped) throw err;
    }
  }
}
