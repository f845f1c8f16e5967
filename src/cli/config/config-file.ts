import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { reasonError } from "../../domain/errors.js";
import { assertPrivateFile } from "./file-mode.js";

/** The output formats a context may make the default (the `-o` values). */
export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const contextSchema = z
  .object({
    server: z.string().url().optional(),
    /** The token itself; `token-command` or `token-file` keep it out of this file. */
    token: z.string().min(1).optional(),
    "token-command": z.string().min(1).optional(),
    "token-file": z.string().min(1).optional(),
    output: z.enum(OUTPUT_FORMATS).optional(),
  })
  .strict()
  .refine((c) => [c.token, c["token-command"], c["token-file"]].filter((t) => t !== undefined).length <= 1, {
    message: "give at most one of token, token-command and token-file",
  });

const configSchema = z
  .object({
    "current-context": z.string().min(1).optional(),
    contexts: z.record(z.string().min(1), contextSchema).default({}),
  })
  .strict();

export type Context = z.infer<typeof contextSchema>;
export type CliConfig = z.infer<typeof configSchema>;

/** `$AUTOPATCH_CONFIG`, else `$XDG_CONFIG_HOME/autopatch/config.yaml`, else `~/.config/autopatch/config.yaml`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AUTOPATCH_CONFIG) return env.AUTOPATCH_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "autopatch", "config.yaml");
}

/** The config at `path`; an absent file is an empty config. A file others can read is refused. */
export function loadConfig(path: string = configPath()): CliConfig {
  if (!existsSync(path)) return { contexts: {} };
  assertPrivateFile(path, "config file");
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, "utf8")) ?? {};
  } catch (err) {
    throw reasonError("config.invalid", `config file ${path} is not YAML: ${(err as Error).message}`, {
      where: path,
      cause: err,
    });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const pointer = issue ? `/${issue.path.map(String).join("/")}` : "";
    throw reasonError("config.invalid", `config file ${path}: ${issue?.message ?? "invalid"}`, {
      where: `${path}#${pointer}`,
    });
  }
  return parsed.data;
}

/** Writes the config readable by its owner only (the directory too), replacing the file atomically. */
export function saveConfig(config: CliConfig, path: string = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, stringify(config), { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, path);
}

/** The context named `name`, or a not-found error listing the known ones. */
export function contextNamed(config: CliConfig, name: string, where: string): Context {
  const context = config.contexts[name];
  if (context === undefined) {
    const known = Object.keys(config.contexts);
    throw reasonError(
      "config.unknown-context",
      `no context "${name}" in ${configPath()}${known.length ? ` (known: ${known.join(", ")})` : ""}`,
      { where },
    );
  }
  return context;
}
