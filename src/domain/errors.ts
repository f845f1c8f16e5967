import { ERROR_REASONS, type ErrorReason, type ReasonSpec } from "./error-reasons.js";

/**
 * Domain errors. Every error has a stable `code` (compare codes, never messages), an HTTP status the
 * API maps it to, and an optional `where` that points at the offending input: `file:line[:col]`,
 * a JSON pointer, or a character offset.
 */
export const ERROR_CODES = [
  "validation",
  "not_found",
  "conflict",
  "unauthenticated",
  "forbidden",
  "unsupported",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const STATUS: Record<ErrorCode, number> = {
  validation: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  unsupported: 422,
  internal: 500,
};

/** CLI exit codes by error code: scripts can tell a bad input from a missing object or a denied call. */
const EXIT: Record<ErrorCode, number> = {
  validation: 2,
  not_found: 3,
  conflict: 4,
  unauthenticated: 5,
  forbidden: 5,
  unsupported: 2,
  internal: 1,
};

export interface ErrorOptions {
  /** The specific situation, from the one table in error-reasons.ts; defaults to the category. */
  reason?: ErrorReason;
  /** Where in the input the problem is: `file:line`, `file:line:col`, `/json/pointer`, `offset 12`. */
  where?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly reason: ErrorReason;
  readonly where: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.reason = options.reason ?? code;
    this.where = options.where;
    this.details = options.details;
  }

  get status(): number {
    const spec: ReasonSpec = ERROR_REASONS[this.reason];
    return spec.status ?? STATUS[this.code];
  }

  get exitCode(): number {
    const spec: ReasonSpec = ERROR_REASONS[this.reason];
    return spec.exit ?? EXIT[this.code];
  }

  /** The message with its location, as a person reads it: `file.yaml:3:5: duration must be …`. */
  describe(): string {
    return this.where ? `${this.where}: ${this.message}` : this.message;
  }

  toJSON(): {
    code: ErrorCode;
    reason: ErrorReason;
    message: string;
    where?: string;
    details?: Record<string, unknown>;
  } {
    return {
      code: this.code,
      reason: this.reason,
      message: this.message,
      ...(this.where === undefined ? {} : { where: this.where }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export class ValidationError extends AppError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("validation", message, options);
    this.name = "ValidationError";
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("not_found", message, options);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends AppError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("conflict", message, options);
    this.name = "ConflictError";
  }
}

export class AuthError extends AppError {
  constructor(code: "unauthenticated" | "forbidden", message: string, options: ErrorOptions = {}) {
    super(code, message, options);
    this.name = "AuthError";
  }
}

/** An error for a specific situation: its category comes from the reason table. */
export function reasonError(
  reason: ErrorReason,
  message: string,
  options: Omit<ErrorOptions, "reason"> = {},
): AppError {
  return new AppError(ERROR_REASONS[reason].category, message, { ...options, reason });
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Builds a JSON pointer (RFC 6901) from path segments, as zod issues and JSON walkers report them. */
export function jsonPointer(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return "/";
  return path.map((p) => `/${String(p).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}
