import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Deadline } from "../client/deadline.js";
import type { ResolvedHealthCheck } from "./check-types.js";
import type { TryOutcome } from "./try-outcome.js";

/** A health endpoint answers in a few bytes; more than this is not read (and cannot match). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One GET of an http check. Redirects are not followed: a health endpoint that redirects (to a login
 * page, say) is not the endpoint the policy names, and its status says so. It uses node:http rather
 * than fetch: a check is one small GET, and fetch's Request, Headers and body streams cost several
 * times the request itself.
 */
export async function httpTry(
  check: ResolvedHealthCheck & { http: string },
  signal: AbortSignal,
): Promise<TryOutcome> {
  // The timeout covers the answer's body too; the deadline is cleared once it is read.
  const deadline = new Deadline(check.timeoutMs, signal);
  try {
    const { status, body } = await get(check.http, deadline.signal, check.bodyMatch !== undefined);
    if (status !== check.expectStatus) {
      return { ok: false, detail: `HTTP ${status}, expected ${check.expectStatus}` };
    }
    if (check.bodyMatch !== undefined && !new RegExp(check.bodyMatch).test(body)) {
      return { ok: false, detail: `HTTP ${status}, but the body does not match /${check.bodyMatch}/` };
    }
    return { ok: true, detail: `HTTP ${status}` };
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

/** The answer's status and, when `read`, up to MAX_BODY_BYTES of its body (else the body is dropped). */
function get(url: string, signal: AbortSignal, read: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      reject(err);
      return;
    }
    const send =
      parsed.protocol === "http:" ? httpRequest : parsed.protocol === "https:" ? httpsRequest : undefined;
    if (send === undefined) {
      reject(new Error(`${parsed.protocol} is not http or https`));
      return;
    }
    const req = send(parsed, { method: "GET", signal }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // An answer cut off (the deadline, a reset) closes without its end: never left pending.
      res.on("close", () => {
        if (!res.complete) reject(signal.aborted ? signal.reason : new Error("the answer ended early"));
      });
      if (!read) {
        // The status is the answer; the socket goes back to the agent's pool once the body is drained.
        res.resume();
        res.on("end", () => resolve({ status, body: "" }));
        res.on("error", reject);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_BODY_BYTES) {
          resolve({ status, body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8") });
          res.destroy();
        }
      });
      res.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
