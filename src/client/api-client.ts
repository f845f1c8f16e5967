import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { urlToHttpOptions } from "node:url";
import createClient, { type Client } from "openapi-fetch";
import { type BackoffPolicy, retry } from "../domain/backoff.js";
import { isErrorReason } from "../domain/error-reasons.js";
import { AppError, type ErrorCode } from "../domain/errors.js";
import type { paths } from "./api-types.js";
import { Deadline } from "./deadline.js";

const KNOWN_CODES: readonly ErrorCode[] = [
  "validation",
  "not_found",
  "conflict",
  "unauthenticated",
  "forbidden",
  "unsupported",
  "internal",
];

export interface ApiClientOptions {
  /** Sent on every request (the agent's protocol version, say). */
  headers?: Record<string, string>;
  /**
   * Retries of reads (GET) that met a refused or reset connection or a 502/503/504 (a restarting
   * server, a proxy in front of one); writes are never repeated here. One attempt when omitted.
   */
  retry?: { attempts: number } & BackoffPolicy;
  /**
   * Rewrites an error's `where` (a pointer into the HTTP request) into the caller's terms: the CLI
   * names its flags. The request's pointer stays in the error's details as `requestWhere`.
   */
  locate?: (where: string) => string;
}

/** What openapi-fetch answers: the parsed body on success, the error body otherwise. */
export interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Transient answers of a proxy or a server that is starting or stopping. */
const TRANSIENT_STATUS = new Set([502, 503, 504]);

/**
 * Connections kept open between calls (an agent makes several a second during an operation), one
 * pool per process as fetch has. An idle one is closed after 4 s, or sooner when the server's
 * `Keep-Alive: timeout` says so, so that the server never closes one as it is being reused.
 */
const KEEP_ALIVE = { keepAlive: true, timeout: 4_000 };
const HTTP_AGENT = new HttpAgent(KEEP_ALIVE);
const HTTPS_AGENT = new HttpsAgent(KEEP_ALIVE);

/** One answer of the server, read to its end. */
interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A small typed client of the REST API, used by the CLI and the agent. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #retry: ApiClientOptions["retry"];
  readonly #locate: ((where: string) => string) | undefined;
  /** node:http options of the base URL (read at the first call); a call adds its path. */
  #target: ReturnType<typeof urlToHttpOptions> | undefined;
  /**
   * The client typed from the server's OpenAPI document (src/client/api-types.ts): paths, parameters
   * and answers are checked at compile time. Pass its results through `data`.
   */
  readonly api: Client<paths>;

  constructor(baseUrl: string, token?: string, timeoutMs = 60_000, options: ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
    this.#timeoutMs = timeoutMs;
    this.#headers = { ...options.headers };
    this.#retry = options.retry;
    this.#locate = options.locate;
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: {
        ...this.#headers,
        accept: "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      fetch: async (request) => {
        // openapi-fetch reads the body after this returns, so the deadline is left to fire (its
        // timer does not keep the process alive).
        const deadline = new Deadline(this.#timeoutMs, request.signal);
        try {
          return await fetch(new Request(request, { signal: deadline.signal }));
        } catch (err) {
          deadline.done();
          throw this.#unreachable(err);
        }
      },
    });
  }

  /** The body of a typed call's answer, or the server's error as the same AppError the server threw. */
  data<T>(result: FetchResult<T>): T {
    if (!result.response.ok) throw this.#located(errorFromResponse(result.response.status, result.error, ""));
    return result.data as T;
  }

  #located(err: AppError): AppError {
    if (this.#locate === undefined || err.where === undefined) return err;
    const where = this.#locate(err.where);
    if (where === err.where) return err;
    return new AppError(err.code, err.message, {
      reason: err.reason,
      where,
      details: { ...err.details, requestWhere: err.where },
    });
  }

  #unreachable(err: unknown): AppError {
    const reason =
      err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    return new AppError("internal", `cannot reach the autopatch server at ${this.baseUrl}: ${reason}`, {
      cause: err,
    });
  }

  /**
   * `signal` ends the request early (a long-poll when the caller stops); the timeout still holds.
   * `onHeaders` sees the answer's headers when it succeeded.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { signal?: AbortSignal; onHeaders?: (headers: IncomingHttpHeaders) => void } = {},
  ): Promise<T> {
    return this.#send<T>(
      method,
      path,
      body === undefined ? undefined : { type: "application/json", data: JSON.stringify(body) },
      options.signal,
      options.onHeaders,
    );
  }

  /** POSTs raw bytes (a package file) with their media type; the answer is JSON as for every call. */
  upload<T>(path: string, bytes: Uint8Array, contentType: string): Promise<T> {
    return this.#send<T>("POST", path, { type: contentType, data: bytes });
  }

  #send<T>(
    method: string,
    path: string,
    body?: { type: string; data: string | Uint8Array },
    signal?: AbortSignal,
    onHeaders?: (headers: IncomingHttpHeaders) => void,
  ): Promise<T> {
    const once = () => this.#sendOnce<T>(method, path, body, signal, onHeaders);
    const policy = this.#retry;
    const run =
      policy === undefined || method !== "GET"
        ? once()
        : retry(once, {
            ...policy,
            retryable: (err) => err instanceof TransientError,
            ...(signal ? { signal } : {}),
          });
    return run.catch((err: unknown) => {
      throw err instanceof TransientError ? err.error : err;
    });
  }

  async #sendOnce<T>(
    method: string,
    path: string,
    body?: { type: string; data: string | Uint8Array },
    signal?: AbortSignal,
    onHeaders?: (headers: IncomingHttpHeaders) => void,
  ): Promise<T> {
    const headers: Record<string, string> = { ...this.#headers, accept: "application/json" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const bytes =
      body === undefined
        ? undefined
        : typeof body.data === "string"
          ? Buffer.from(body.data, "utf8")
          : Buffer.from(body.data.buffer, body.data.byteOffset, body.data.byteLength);
    if (body !== undefined && bytes !== undefined) {
      headers["content-type"] = body.type;
      headers["content-length"] = String(bytes.length);
    }
    // One deadline covers the request and the reading of its answer, and is cleared once both are done.
    const deadline = new Deadline(this.#timeoutMs, signal);
    let answer: RawAnswer;
    try {
      answer = await this.#exchange(method, path, headers, bytes, deadline);
    } finally {
      deadline.done();
    }
    const parsed: unknown = answer.text === "" ? undefined : safeJson(answer.text);
    if (answer.status < 200 || answer.status > 299) {
      const error = this.#located(errorFromResponse(answer.status, parsed, answer.text));
      throw TRANSIENT_STATUS.has(answer.status) ? new TransientError(error) : error;
    }
    onHeaders?.(answer.headers);
    return parsed as T;
  }

  /**
   * Sends one request with node:http (a kept-alive connection; fetch cost several times the CPU per
   * call) and reads its answer to the end, or fails when the deadline aborts first. A connection that
   * fails before the answer is an AppError of code `internal`, wrapped in a TransientError when it was
   * refused or reset (a restart).
   */
  #exchange(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    deadline: Deadline,
  ): Promise<RawAnswer> {
    return new Promise<RawAnswer>((resolve, reject) => {
      let answered = false;
      const req = this.#open(method, path, headers, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text:
              chunks.length === 1
                ? (chunks[0] as Buffer).toString("utf8")
                : Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("close", () => {
          if (!res.complete) reject(this.#cutOff(deadline));
        });
      });
      if (req instanceof AppError) return reject(req);
      const onAbort = () => req.destroy(abortReason(deadline));
      if (deadline.signal.aborted) onAbort();
      else deadline.signal.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => deadline.signal.removeEventListener("abort", onAbort));
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (answered) return reject(this.#cutOff(deadline));
        if (deadline.signal.aborted) return reject(this.#unreachable(abortReason(deadline)));
        const error = this.#unreachable(err);
        // A refused or reset connection may be a restart; a timeout is not retried (it already waited).
        reject(err.code === "ECONNREFUSED" || err.code === "ECONNRESET" ? new TransientError(error) : error);
      });
      req.end(body);
    });
  }

  /** Starts a request to the server, or says why the server's URL cannot take one. */
  #open(
    method: string,
    path: string,
    headers: Record<string, string>,
    onResponse: (res: IncomingMessage) => void,
  ): ReturnType<typeof httpRequest> | AppError {
    let target = this.#target;
    if (target === undefined) {
      try {
        target = urlToHttpOptions(new URL(this.baseUrl));
      } catch (err) {
        return this.#unreachable(err);
      }
      if (target.protocol !== "http:" && target.protocol !== "https:") {
        return this.#unreachable(new Error(`${target.protocol} is not http: or https:`));
      }
      this.#target = target;
    }
    const https = target.protocol === "https:";
    const options = {
      ...target,
      // The base URL's own path (a proxy's prefix), without its query: urlToHttpOptions joins them.
      path: `${(target.path ?? "").split("?")[0]?.replace(/\/+$/, "") ?? ""}${path}`,
      method,
      headers,
      agent: https ? HTTPS_AGENT : HTTP_AGENT,
    };
    return https ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
  }

  /** The answer stopped before its end: the deadline ran out, the caller stopped, or the server went. */
  #cutOff(deadline: Deadline): AppError {
    const why = deadline.signal.aborted ? abortReason(deadline).message : "the connection closed";
    return new AppError(
      "internal",
      `the autopatch server at ${this.baseUrl} did not finish its answer: ${why}`,
    );
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body ?? {});
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body ?? {});
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** GETs a long body (an export) as a stream: the timeout covers the response's start, not its end. */
  async stream(path: string): Promise<Readable> {
    const headers: Record<string, string> = { ...this.#headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const deadline = new Deadline(this.#timeoutMs);
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = this.#open("GET", path, headers, resolve);
        if (req instanceof AppError) return reject(req);
        const onAbort = () => req.destroy(abortReason(deadline));
        deadline.signal.addEventListener("abort", onAbort, { once: true });
        req.on("response", () => deadline.signal.removeEventListener("abort", onAbort));
        req.on("error", (err) =>
          reject(this.#unreachable(deadline.signal.aborted ? abortReason(deadline) : err)),
        );
        req.end();
      });
    } finally {
      deadline.done();
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      throw errorFromResponse(status, safeJson(text), text);
    }
    return res;
  }
}

/** Why a deadline aborted: the time ran out, or the caller's own reason. */
function abortReason(deadline: Deadline): Error {
  if (deadline.timedOut) return new Error("no answer in time (timeout)");
  const reason: unknown = deadline.signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason ?? "aborted"));
}

/** Carries an error that a retry may outlast; unwrapped before it reaches the caller. */
class TransientError extends Error {
  constructor(readonly error: AppError) {
    super(error.message);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Turns the API's `{error: {code, message, where}}` back into the same AppError on the client side. */
function errorFromResponse(status: number, body: unknown, text: string): AppError {
  const error = (
    body as { error?: { code?: string; reason?: string; message?: string; where?: string } } | undefined
  )?.error;
  const code =
    KNOWN_CODES.find((c) => c === error?.code) ??
    (status === 404 ? "not_found" : status >= 500 ? "internal" : "validation");
  const message = error?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
  return new AppError(code, message, {
    ...(error?.where === undefined ? {} : { where: error.where }),
    ...(isErrorReason(error?.reason) ? { reason: error.reason } : {}),
  });
}
