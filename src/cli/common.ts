import type { Command } from "commander";
import { ApiClient } from "../client/api-client.js";
import { reasonError, ValidationError } from "../domain/errors.js";
import { DURATION_HINT, parseDuration } from "../policy/duration.js";
import { parseWebhookAllowList, splitAllowListEnv } from "../policy/webhook-destination.js";
import { type Connection, resolveConnection } from "./config/connection.js";
import { applyOutputFlags, type OutputFlags, withOutputFlags } from "./output/options.js";
import { userLocation } from "./request-location.js";

export interface ClientFlags extends OutputFlags {
  server?: string;
  token?: string;
  context?: string;
}

/**
 * Adds the flags every server-talking command takes. Server and token come from the flag, else the
 * environment, else the selected context of the config file (see config/connection.ts); a context's
 * default output fills `--json`/`--output` when neither the flag nor $AUTOPATCH_OUTPUT gives one.
 */
export function withClientFlags(command: Command): Command {
  return withOutputFlags(
    command
      .option(
        "--server <url>",
        "server URL (default: $AUTOPATCH_SERVER, the context's, or http://127.0.0.1:8080)",
      )
      .option("--token <token>", "API token (default: $AUTOPATCH_TOKEN or the context's)")
      .option(
        "--context <name>",
        "context of the config file to use (default: $AUTOPATCH_CONTEXT or the current one)",
      ),
  ).hook("preAction", (_self, action) => applyDefaultOutput(action));
}

/** The server and token of a client command, as `clientFrom` uses them. */
function connectionFrom(flags: ClientFlags): Connection {
  return resolveConnection(flags);
}

export function clientFrom(flags: ClientFlags): ApiClient {
  const { server, token } = connectionFrom(flags);
  if (!token) {
    throw reasonError(
      "config.no-token",
      "no API token: pass --token, set AUTOPATCH_TOKEN, or add a context (autopatch config set-context)",
      { where: "--token" },
    );
  }
  return new ApiClient(server, token, undefined, { retry: CLI_READ_RETRY, locate: userLocation });
}

/** A read that meets a restarting server is tried twice more within about two seconds. */
const CLI_READ_RETRY = { attempts: 3, baseMs: 500, capMs: 2_000 } as const;

/** Sets the output option from $AUTOPATCH_OUTPUT or the context when the command line gives none. */
function applyDefaultOutput(command: Command): void {
  const given = (name: string) => {
    const source = command.getOptionValueSource(name);
    return source !== undefined && source !== "default";
  };
  if (given("json") || given("output")) return;
  const fromEnv = process.env.AUTOPATCH_OUTPUT;
  let format: string | undefined = fromEnv;
  if (format === undefined) {
    const opts = command.opts<ClientFlags>();
    try {
      format = resolveConnection(opts).context?.output;
    } catch {
      // A broken config file is reported by the command's own clientFrom; the output stays the default.
      return;
    }
  }
  if (format === undefined) return;
  const source = fromEnv === undefined ? "config" : "env";
  if (command.options.some((o) => o.attributeName() === "output")) {
    command.setOptionValueWithSource("output", format, source);
  } else if (format === "json") {
    command.setOptionValueWithSource("json", true, source);
  }
  // The program's hook read the output flags before this one ran: read them again.
  applyOutputFlags(command);
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
