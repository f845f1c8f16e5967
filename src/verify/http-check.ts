import { Deadline } from "../client/deadline.js";
import type { ResolvedHealthCheck } from "./check-types.js";
import type { TryOutcome } from "./try-outcome.js";

/** A health endpoint answers in a few bytes; more than this is not read (and cannot match). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One GET of an http check. Redirects are not followed: a health endpoint that redirects (to a login
 * page, say) is not the endpoint the policy names, and its status says so.
 */
export async function httpTry(
  check: ResolvedHealthCheck & { http: string },
  signal: AbortSignal,
): Promise<TryOutcome> {
  // The timeout covers the answer's body too; the deadline is cleared once it is read.
  const deadline = new Deadline(check.timeoutMs, signal);
  try {
    const response = await fetch(check.http, { redirect: "manual", signal: deadline.signal });
    const body = check.bodyMatch === undefined ? await discard(response) : await readLimited(response);
    if (response.status !== check.expectStatus) {
      return { ok: false, detail: `HTTP ${response.status}, expected ${check.expectStatus}` };
    }
    if (check.bodyMatch !== undefined && !new RegExp(check.bodyMatch).test(body)) {
      return {
        ok: false,
        detail: `HTTP ${response.status}, but the body does not match /${check.bodyMatch}/`,
      };
    }
    return { ok: true, detail: `HTTP ${response.status}` };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (deadline.timedOut) return { ok: false, detail: `no answer within ${check.timeoutMs} ms` };
    const cause = (err as Error).cause;
    const reason = cause instanceof Error ? cause.message : (err as Error).message;
    return { ok: false, detail: `GET ${check.http} failed: ${reason}` };
  } finally {
    deadline.done();
  }
}

async function discard(response: Response): Promise<string> {
  await response.body?.cancel().catch(() => undefined);
  return "";
}

async function readLimited(response: Response): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8");
}
