import type { Command } from "commander";
import { ApiClient } from "../client/api-client.js";
import { ValidationError } from "../domain/errors.js";

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
  return new ApiClient(server, token);
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

/** Parses durations such as 30s, 5m, 2h for flags. */
export function parseDurationFlag(value: string, flag: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new ValidationError(`"${value}" is not a duration like 30s, 5m or 2h`, { where: flag });
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unit;
}
