import { Command, Option } from "@commander-js/extra-typings";
import type { Command as ProgramCommand } from "commander";
import { reasonError } from "../../domain/errors.js";
import {
  type Context,
  configPath,
  contextNamed,
  loadConfig,
  OUTPUT_FORMATS,
  saveConfig,
} from "../config/config-file.js";
import { printJson, printTable } from "../output.js";

function tokenKind(context: Context): string {
  if (context.token !== undefined) return "inline";
  if (context["token-command"] !== undefined) return `command: ${context["token-command"]}`;
  if (context["token-file"] !== undefined) return `file: ${context["token-file"]}`;
  return "";
}

/** `autopatch config …`: contexts (server, token source, default output) in the config file, as kubectl keeps them. */
export function registerConfigCommand(program: ProgramCommand): void {
  const config = new Command("config").description(
    "Contexts in the config file ($AUTOPATCH_CONFIG or ~/.config/autopatch/config.yaml): server, token, default output",
  );

  config
    .command("set-context")
    .description("Create or update a context; only the options given change")
    .argument("<name>", "context name")
    .option("--server <url>", "server URL")
    .option("--token <token>", "the token itself (prefer --token-command or --token-file)")
    .option("--token-command <command>", "a shell command that prints the token, e.g. 'pass show autopatch'")
    .option("--token-file <path>", "a file that holds the token (mode 600)")
    .addOption(new Option("--output <format>", "default output of client commands").choices(OUTPUT_FORMATS))
    .option("--use", "make it the current context as well")
    .addHelpText(
      "after",
      "\nExample:\n  autopatch config set-context prod --server https://autopatch.example.com --token-file ~/.config/autopatch/prod.token --use",
    )
    .action((name, flags) => {
      const given = [flags.token, flags.tokenCommand, flags.tokenFile].filter((t) => t !== undefined);
      if (given.length > 1) {
        throw reasonError("config.invalid", "give one of --token, --token-command and --token-file", {
          where: "--token",
        });
      }
      if (flags.server !== undefined && !URL.canParse(flags.server)) {
        throw reasonError("config.invalid", `"${flags.server}" is not a URL`, { where: "--server" });
      }
      const file = loadConfig();
      const existed = name in file.contexts;
      const previous: Context = file.contexts[name] ?? {};
      const next: Context = { ...previous };
      if (flags.server !== undefined) next.server = flags.server;
      if (given.length === 1) {
        delete next.token;
        delete next["token-command"];
        delete next["token-file"];
        if (flags.token !== undefined) next.token = flags.token;
        if (flags.tokenCommand !== undefined) next["token-command"] = flags.tokenCommand;
        if (flags.tokenFile !== undefined) next["token-file"] = flags.tokenFile;
      }
      if (flags.output !== undefined) next.output = flags.output;
      file.contexts[name] = next;
      if (flags.use || file["current-context"] === undefined) file["current-context"] = name;
      saveConfig(file);
      process.stdout.write(
        `context "${name}" ${existed ? "updated" : "created"} in ${configPath()}${file["current-context"] === name ? " (current)" : ""}\n`,
      );
    });

  config
    .command("use-context")
    .description("Make a context the current one")
    .argument("<name>", "context name")
    .addHelpText("after", "\nExample:\n  autopatch config use-context staging")
    .action((name) => {
      const file = loadConfig();
      contextNamed(file, name, "<name>");
      file["current-context"] = name;
      saveConfig(file);
      process.stdout.write(`switched to context "${name}"\n`);
    });

  config
    .command("delete-context")
    .description("Remove a context")
    .argument("<name>", "context name")
    .action((name) => {
      const file = loadConfig();
      contextNamed(file, name, "<name>");
      delete file.contexts[name];
      if (file["current-context"] === name) delete file["current-context"];
      saveConfig(file);
      process.stdout.write(`deleted context "${name}"\n`);
    });

  config
    .command("get-contexts")
    .description("List the contexts; * marks the current one")
    .option("--json", "print JSON for scripts instead of a table")
    .addHelpText("after", "\nExample:\n  autopatch config get-contexts")
    .action((flags) => {
      const file = loadConfig();
      const rows = Object.entries(file.contexts).map(([name, c]) => ({
        name,
        current: name === file["current-context"],
        server: c.server ?? null,
        token: tokenKind(c) || null,
        output: c.output ?? null,
      }));
      if (flags.json) return printJson(rows);
      if (rows.length === 0) {
        process.stdout.write(
          `No contexts in ${configPath()} (autopatch config set-context NAME --server URL)\n`,
        );
        return;
      }
      printTable(rows, [
        { header: "CURRENT", value: (r) => (r.current ? "*" : "") },
        { header: "NAME", value: (r) => r.name },
        { header: "SERVER", value: (r) => r.server },
        { header: "TOKEN", value: (r) => r.token },
        { header: "OUTPUT", value: (r) => r.output },
      ]);
    });

  config
    .command("current-context")
    .description("Print the name of the current context")
    .action(() => {
      const current = loadConfig()["current-context"];
      if (current === undefined) {
        throw reasonError("config.unknown-context", `no current context in ${configPath()}`, {
          where: configPath(),
        });
      }
      process.stdout.write(`${current}\n`);
    });

  // The typed command is commander's own class at run time; only its declared types are richer.
  program.addCommand(config as unknown as ProgramCommand);
}
