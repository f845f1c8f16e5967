import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { CheckResult, ResolvedHealthCheck } from "./check-types.js";
import { commandTry } from "./command-check.js";
import { httpTry } from "./http-check.js";
import type { TryOutcome } from "./try-outcome.js";

/** The schema's limit on a check's detail. */
const MAX_DETAIL = 2000;

function oneTry(check: ResolvedHealthCheck, signal: AbortSignal): Promise<TryOutcome> {
  if (check.http !== undefined) return httpTry({ ...check, http: check.http }, signal);
  if (check.command !== undefined) return commandTry({ ...check, command: check.command }, signal);
  return Promise.resolve({ ok: false, detail: "the check has neither http nor command" });
}

/** Runs one check: the first try, then up to `retries` more `intervalMs` apart, until one passes. */
async function runHealthCheck(check: ResolvedHealthCheck, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  let tries = 0;
  let outcome: TryOutcome = { ok: false, detail: "not run" };
  while (tries <= check.retries) {
    // The sleep rejects with a generic AbortError; the signal's own reason says why it stopped.
    if (tries > 0) await sleep(check.intervalMs, undefined, { signal }).catch(() => undefined);
    signal.throwIfAborted();
    tries += 1;
    outcome = await oneTry(check, signal);
    if (outcome.ok) break;
  }
  const detail = tries > 1 ? `${outcome.detail} (try ${tries} of ${check.retries + 1})` : outcome.detail;
  return {
    name: check.name,
    ok: outcome.ok,
    tries,
    detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Runs every check at once (they are independent, and a host waits for the slowest only) and returns
 * their results in the order given. Rejects only when `signal` aborts.
 */
export async function runHealthChecks(
  checks: readonly ResolvedHealthCheck[],
  signal: AbortSignal,
): Promise<CheckResult[]> {
  if (checks.length <= 1) return Promise.all(checks.map((check) => runHealthCheck(check, signal)));
  // Every running check listens on its signal: the checks share one of their own, which may have as
  // many listeners as there are checks, instead of crowding the caller's.
  const own = new AbortController();
  setMaxListeners(checks.length + 10, own.signal);
  const onAbort = () => own.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.all(checks.map((check) => runHealthCheck(check, own.signal)));
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
