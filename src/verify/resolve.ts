import { jsonPointer, reasonError } from "../domain/errors.js";
import { parseDuration } from "../policy/duration.js";
import type { HealthCheck } from "../policy/schema.js";
import type { CheckContext, ResolvedHealthCheck } from "./check-types.js";

/** `{{name}}`, `{{ labels.health-port }}`: spaces inside the braces are allowed, as in most templates. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The placeholders a check may use, as an error lists them. */
const PLACEHOLDER_NAMES = ["name", "environment", "group", "region", "labels.KEY"] as const;

const FIELDS = ["name", "environment", "group", "region"] as const;
type Field = (typeof FIELDS)[number];

function isField(name: string): name is Field {
  return (FIELDS as readonly string[]).includes(name);
}

/** The value of one placeholder for this asset; throws naming it when it is unknown or unset. */
function placeholderValue(placeholder: string, ctx: CheckContext, where: string): string {
  if (isField(placeholder)) return ctx[placeholder];
  if (placeholder.startsWith("labels.") && placeholder.length > "labels.".length) {
    const key = placeholder.slice("labels.".length);
    const value = Object.hasOwn(ctx.labels, key) ? ctx.labels[key] : undefined;
    if (value === undefined) {
      throw reasonError(
        "verify.missing-label",
        `asset ${ctx.name} has no label "${key}" for the placeholder {{${placeholder}}}`,
        { where },
      );
    }
    return value;
  }
  throw reasonError(
    "verify.unknown-placeholder",
    `unknown placeholder {{${placeholder}}}: use ${PLACEHOLDER_NAMES.map((n) => `{{${n}}}`).join(", ")}`,
    { where },
  );
}

function fill(text: string, ctx: CheckContext, where: string, encode: (value: string) => string): string {
  return text.replace(PLACEHOLDER, (_whole, name: string) => encode(placeholderValue(name, ctx, where)));
}

/**
 * Every value is percent-encoded as a URI component wherever it lands, so a label can fill a port, a
 * path segment or a query value but can never add a `/`, `@`, `:` or `?` that would change which host
 * or path is asked. The result must be an http(s) URL.
 */
function resolveUrl(template: string, ctx: CheckContext, where: string): string {
  const url = fill(template, ctx, where, encodeURIComponent);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw reasonError("verify.invalid-url", `${JSON.stringify(url)} is not a URL`, { where });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw reasonError("verify.invalid-url", `${JSON.stringify(url)} is not an http or https URL`, { where });
  }
  return url;
}

function positiveMs(value: HealthCheck["timeout"], where: string): number {
  const ms = parseDuration(value);
  if (ms <= 0)
    throw reasonError("verify.invalid-timeout", "a check's timeout must be more than 0", { where });
  return ms;
}

/**
 * Fills the asset's fields and labels into a policy's health checks: what the host then runs as it is.
 * URLs get URL-encoded values; argv gets them verbatim (it is run without a shell). An unknown
 * placeholder or a label the asset lacks is an error that names it and the check it is in.
 */
export function resolveHealthChecks(
  checks: readonly HealthCheck[],
  ctx: CheckContext,
): ResolvedHealthCheck[] {
  return checks.map((check, i) => {
    const at = (...path: Array<string | number>) => jsonPointer(["verification", "healthChecks", i, ...path]);
    return {
      name: check.name,
      ...(check.http === undefined ? {} : { http: resolveUrl(check.http, ctx, at("http")) }),
      expectStatus: check.expectStatus,
      ...(check.bodyMatch === undefined ? {} : { bodyMatch: check.bodyMatch }),
      ...(check.command === undefined
        ? {}
        : { command: check.command.map((arg, j) => fill(arg, ctx, at("command", j), (v) => v)) }),
      expectExit: check.expectExit,
      timeoutMs: positiveMs(check.timeout, at("timeout")),
      retries: check.retries,
      intervalMs: parseDuration(check.interval),
    };
  });
}
