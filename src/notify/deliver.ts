import { sql } from "kysely";
import { backoffDelayMs } from "../domain/backoff.js";
import { parseWebhookAllowList } from "../policy/webhook-destination.js";
import type { ServiceContext } from "../service/context.js";
import { claimDue, type OutboxRow } from "./claim.js";
import { type Resolver, refusedDestination } from "./destination-guard.js";
import { safeUrl } from "./safe-url.js";

const DEFAULT_MAX_ATTEMPTS = 12;
const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_BATCH = 20;
/** Longer than one request's timeout: the messages of a batch are posted at the same time. */
const DEFAULT_LEASE_MS = 60_000;

export interface DeliveryOptions {
  /** Messages claimed per pass. */
  batch?: number;
  /** Attempts before a message is dead (kept, listed, no longer sent). */
  maxAttempts?: number;
  /** Per request. */
  timeoutMs?: number;
  /** How long a claim keeps other workers off a message. */
  leaseMs?: number;
  /** The HTTP client; the platform's fetch unless given. */
  fetch?: typeof fetch;
  /** Source of backoff jitter in [0, 1). */
  random?: () => number;
  /** Resolves webhook host names for the destination check; the system resolver unless given. */
  resolve?: Resolver;
}

export interface DeliveryResult {
  delivered: number;
  /** Failed this time, to be retried. */
  failed: number;
  /** Failed for the last time. */
  dead: number;
}

type Outcome = { ok: true; status: number } | { ok: false; error: string };

/**
 * One delivery pass: claims the due messages and posts each once. Delivery is at least once: a crash
 * after a receiver accepted a message but before it is marked delivered sends it again once the lease
 * ends, so receivers must de-duplicate by the Idempotency-Key header (the same key on every attempt).
 */
export async function deliverDue(
  ctx: ServiceContext,
  now: Date = ctx.now(),
  options: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const batch = Math.max(1, options.batch ?? DEFAULT_BATCH);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The lease must outlast the slowest post, or another worker would take the message meanwhile.
  const leaseMs = Math.max(options.leaseMs ?? DEFAULT_LEASE_MS, timeoutMs + 5_000);
  const rows = await claimDue(ctx.store, now, batch, leaseMs);
  const result: DeliveryResult = { delivered: 0, failed: 0, dead: 0 };
  const allow = parseWebhookAllowList(ctx.config.webhookAllow);
  const settled = await Promise.allSettled(
    rows.map(async (row) => {
      // Checked on every attempt: what a name resolves to can change after the policy was applied.
      const refused = await refusedDestination(row.target_url, allow, options.resolve);
      const outcome: Outcome =
        refused === null ? await post(row, timeoutMs, options.fetch ?? fetch) : { ok: false, error: refused };
      const recorded = await record(ctx, row, outcome, now, options);
      if (recorded) result[recorded] += 1;
    }),
  );
  // Only storing an outcome can fail (the store went away); that message's lease then runs out and it
  // is sent again. Every post has finished by now, so no failure is left unobserved.
  const failure = settled.find((s) => s.status === "rejected");
  if (failure) throw failure.reason;
  return result;
}

async function post(row: OutboxRow, timeoutMs: number, send: typeof fetch): Promise<Outcome> {
  try {
    const response = await send(row.target_url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "idempotency-key": row.idempotency_key,
        "user-agent": "autopatch",
      },
      body: row.payload,
      // A redirect is not a delivery: following it would post the message to a place the policy never named.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Drain the body so the connection can be reused; its content is not needed.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    return {
      ok: false,
      error: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
    };
  } catch (err) {
    return { ok: false, error: describeFailure(err, row.target_url) };
  }
}

function describeFailure(err: unknown, url: string): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timed out";
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const code = cause && "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
  const text = [err instanceof Error ? err.message : String(err), code ?? cause?.message]
    .filter((t) => t !== undefined && t !== "")
    .join(": ");
  // An error message may quote the URL; keep its secret parts out of the store and the logs.
  return text.replaceAll(url, safeUrl(url)).slice(0, 500);
}

/**
 * Stores the outcome. A failure is recorded only if `attempts` is still what this worker claimed: a
 * worker whose lease ran out cannot overwrite a newer attempt's result.
 */
async function record(
  ctx: ServiceContext,
  row: OutboxRow,
  outcome: Outcome,
  now: Date,
  options: DeliveryOptions,
): Promise<keyof DeliveryResult | null> {
  const attempts = row.attempts + 1;
  const fields = {
    id: row.id,
    event: row.event,
    subject: `${row.subject_type}/${row.subject_id}`,
    target: row.target_name,
    url: safeUrl(row.target_url),
    attempts,
  };
  if (outcome.ok) {
    const done = await ctx.store.write((trx) =>
      trx
        .updateTable("outbox")
        .set({
          delivered_at: now.toISOString(),
          attempts: sql<number>`attempts + 1`,
          claimed_until: null,
          last_error: null,
        })
        .where("id", "=", row.id)
        .where("delivered_at", "is", null)
        .executeTakeFirst(),
    );
    ctx.logger.info({ ...fields, status: outcome.status }, "notification delivered");
    return Number(done.numUpdatedRows) > 0 ? "delivered" : null;
  }
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const dead = attempts >= maxAttempts;
  const nextAttemptAt = dead
    ? row.next_attempt_at
    : new Date(now.getTime() + backoffDelayMs(attempts, options.random)).toISOString();
  const done = await ctx.store.write((trx) =>
    trx
      .updateTable("outbox")
      .set({
        attempts,
        next_attempt_at: nextAttemptAt,
        claimed_until: null,
        last_error: outcome.error,
        dead_at: dead ? now.toISOString() : null,
      })
      .where("id", "=", row.id)
      .where("delivered_at", "is", null)
      .where("attempts", "=", row.attempts)
      .executeTakeFirst(),
  );
  if (Number(done.numUpdatedRows) === 0) return null;
  if (dead) {
    ctx.logger.error({ ...fields, error: outcome.error }, "notification dead after its last attempt");
    return "dead";
  }
  ctx.logger.warn({ ...fields, error: outcome.error, nextAttemptAt }, "notification delivery failed");
  return "failed";
}
