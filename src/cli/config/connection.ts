import { execSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { reasonError } from "../../domain/errors.js";
import { type CliConfig, type Context, configPath, contextNamed, loadConfig } from "./config-file.js";
import { assertPrivateFile } from "./file-mode.js";

const DEFAULT_SERVER = "http://127.0.0.1:8080";

export interface ConnectionFlags {
  server?: string;
  token?: string;
  context?: string;
}

export interface Connection {
  server: string;
  /** Undefined when no flag, variable or context gives one. */
  token: string | undefined;
  /** Where each value came from, for `config current-context` and error messages. */
  source: { server: "flag" | "env" | "context" | "default"; token: "flag" | "env" | "context" | "none" };
  /** The context used (when one is selected), and its default output. */
  context: { name: string; output: Context["output"] } | undefined;
}

/**
 * The server and token for a client command: a flag wins over the environment, which wins over the
 * selected context (`--context`, `$AUTOPATCH_CONTEXT`, then the config's current context). The config
 * file is read only when a flag or variable leaves something open, so a broken or unprotected file
 * does not stand in the way of an explicit `--server … --token …`.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const serverOverride = flags.server ?? env.AUTOPATCH_SERVER;
  const tokenOverride = flags.token ?? env.AUTOPATCH_TOKEN;
  const explicitContext = flags.context ?? env.AUTOPATCH_CONTEXT;
  const needsConfig =
    explicitContext !== undefined || serverOverride === undefined || tokenOverride === undefined;
  const selected = needsConfig
    ? selectContext(loadConfig(configPath(env)), explicitContext, flags)
    : undefined;
  const context = selected?.context;
  return {
    server: serverOverride ?? context?.server ?? DEFAULT_SERVER,
    token: tokenOverride ?? (context ? contextToken(context, selected.name) : undefined),
    source: {
      server: flags.server ? "flag" : env.AUTOPATCH_SERVER ? "env" : context?.server ? "context" : "default",
      token: flags.token
        ? "flag"
        : env.AUTOPATCH_TOKEN
          ? "env"
          : context && (context.token ?? context["token-command"] ?? context["token-file"])
            ? "context"
            : "none",
    },
    context: selected ? { name: selected.name, output: context?.output } : undefined,
  };
}

function selectContext(
  config: CliConfig,
  explicit: string | undefined,
  flags: ConnectionFlags,
): { name: string; context: Context } | undefined {
  const name = explicit ?? config["current-context"];
  if (name === undefined) return undefined;
  return {
    name,
    context: contextNamed(
      config,
      name,
      flags.context !== undefined ? "--context" : explicit ? "AUTOPATCH_CONTEXT" : configPath(),
    ),
  };
}

/** The context's token: given inline, printed by a command, or read from a file (kept private). */
function contextToken(context: Context, name: string): string | undefined {
  if (context.token !== undefined) return context.token;
  const command = context["token-command"];
  if (command !== undefined) {
    try {
      const out = execSync(command, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
      const token = out.trim();
      if (token === "") throw new Error("it printed nothing");
      return token;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw reasonError(
        "config.token-command-failed",
        `the token command of context "${name}" failed: ${stderr || (err as Error).message}`,
        { where: `${configPath()}#/contexts/${name}/token-command`, cause: err },
      );
    }
  }
  const file = context["token-file"];
  if (file !== undefined) {
    const path = file.startsWith("~/") ? `${homedir()}${file.slice(1)}` : file;
    if (!existsSync(path)) {
      throw reasonError("config.invalid", `the token file of context "${name}" does not exist: ${path}`, {
        where: `${configPath()}#/contexts/${name}/token-file`,
      });
    }
    assertPrivateFile(path, "token file");
    return readFileSync(path, "utf8").trim();
  }
  return undefined;
}
