import type { Command } from "commander";
import { ApiClient } from "../client/api-client.js";
import { ValidationError } from "../domain/errors.js";
import { DURATION_HINT, parseDuration } from "../policy/duration.js";
import { parseWebhookAllowList, splitAllowListEnv } from "../policy/webhook-destination.js";
import { userLocation } from "./request-location.js";

export interface ClientFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Adds the flags every server-talking command takes. */
export function withClientFlags(command: Command): Command {
  return command
    .option("--server <url>", "server URL (default: $AUTOPATCH_SERVER or http://127.0.0.1:8080)")
    .option("--token <token>", "API token (default: $AUTOPATCH_TOKEN)")
    .option("--json", "print JSON for scripts instead of a table");
}

export function clientFrom(flags: ClientFlags): ApiClient {
  const server = flags.server ?? process.env.AUTOPATCH_SERVER ?? "http://127.0.0.1:8080";
  const token = flags.token ?? process.env.AUTOPATCH_TOKEN;
  if (!token)
    throw new ValidationError("no API token: pass --token or set AUTOPATCH_TOKEN", { where: "--token" });
  return new ApiClient(server, token, undefined, { locate: userLocation });
}

/** Parses `key=value` flags given several times. */
export function collectKeyValue(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new ValidationError(`"${value}" is not key=value`, { where: "--label" });
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a duration flag (30s, 5m, 2h, 1d12h) as policies spell durations. */
export function parseDurationFlag(value: string, flag: string): number {
  try {
    return parseDuration(value.trim());
  } catch {
    throw new ValidationError(`"${value}" is not a duration (${DURATION_HINT})`, { where: flag });
  }
}

/** `--webhook-allow` entries, or $AUTOPATCH_WEBHOOK_ALLOW's when the flag is not given; checked here. */
export function webhookAllowEntries(flag: readonly string[] | undefined): string[] {
  const entries = flag
    ? flag.flatMap((f) => splitAllowListEnv(f))
    : splitAllowListEnv(process.env.AUTOPATCH_WEBHOOK_ALLOW);
  parseWebhookAllowList(entries, flag ? "--webhook-allow" : "AUTOPATCH_WEBHOOK_ALLOW");
  return entries;
}
