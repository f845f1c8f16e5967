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

/** A small typed client of the REST API, used by the CLI and the agent. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #retry: ApiClientOptions["retry"];
  readonly #locate: ((where: string) => string) | undefined;
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
    options: { signal?: AbortSignal; onHeaders?: (headers: Headers) => void } = {},
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
    onHeaders?: (headers: Headers) => void,
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
    onHeaders?: (headers: Headers) => void,
  ): Promise<T> {
    const headers: Record<string, string> = { ...this.#headers, accept: "application/json" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["content-type"] = body.type;
    // One deadline covers the request and the reading of its answer, and is cleared once both are done.
    const deadline = new Deadline(this.#timeoutMs, signal);
    let response: Response;
    let text: string;
    try {
      try {
        response = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: body.data }),
          signal: deadline.signal,
        });
      } catch (err) {
        const reason =
          err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
        const error = new AppError(
          "internal",
          `cannot reach the autopatch server at ${this.baseUrl}: ${reason}`,
          {
            cause: err,
          },
        );
        // A refused or reset connection may be a restart; a timeout is not retried (it already waited).
        const code =
          (err instanceof Error ? (err.cause as { code?: unknown } | undefined)?.code : undefined) ?? "";
        throw code === "ECONNREFUSED" || code === "ECONNRESET" ? new TransientError(error) : error;
      }
      text = await response.text();
    } finally {
      deadline.done();
    }
    const parsed: unknown = text === "" ? undefined : safeJson(text);
    if (!response.ok) {
      const error = this.#located(errorFromResponse(response.status, parsed, text));
      throw TRANSIENT_STATUS.has(response.status) ? new TransientError(error) : error;
    }
    onHeaders?.(response.headers);
    return parsed as T;
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
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = { ...this.#headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("timed out")), this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { headers, signal: abort.signal });
    } catch (err) {
      const reason =
        err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new AppError("internal", `cannot reach the autopatch server at ${this.baseUrl}: ${reason}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok || response.body === null) {
      const text = await response.text();
      throw errorFromResponse(response.status, safeJson(text), text);
    }
    return response.body;
  }
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
