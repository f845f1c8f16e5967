import { type Command, Help } from "commander";
import { commandPath, examplesFor, optionDescription } from "./conventions.js";

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

function section(command: Command, help: Help): string {
  const path = commandPath(command);
  const lines = [
    `## autopatch ${path}`,
    "",
    command.description(),
    "",
    "```",
    `autopatch ${path} ${command.usage()}`,
    "```",
    "",
  ];
  const options = help.visibleOptions(command).filter((o) => o.long !== "--help");
  if (options.length > 0) {
    lines.push("| option | description |", "|---|---|");
    for (const option of options)
      lines.push(`| \`${cell(option.flags)}\` | ${cell(optionDescription(help, option))} |`);
    lines.push("");
  }
  const examples = examplesFor(command);
  if (examples.length > 0) lines.push("Examples:", "", "```sh", ...examples.map((e) => `$ ${e}`), "```", "");
  return lines.join("\n");
}

/** docs/cli.md: every command's usage, options (required ones marked) and examples, from the same definitions as --help. */
export function cliReference(program: Command): string {
  const help = new Help();
  const leaves: Command[] = [];
  const walk = (command: Command) => {
    for (const sub of help.visibleCommands(command)) {
      if (sub.name() === "help") continue;
      if (sub.commands.length === 0) leaves.push(sub);
      walk(sub);
    }
  };
  walk(program);
  return [
    "# autopatch command line",
    "",
    "Generated from the command definitions by `npm run docs:cli`; `autopatch COMMAND --help` prints the same.",
    "",
    "Commands that print data take `-o table|wide|json|yaml` (`--json` is `-o json`), `--no-pager` and `--utc`.",
    "",
    ...leaves.map((c) => `- [autopatch ${commandPath(c)}](#autopatch-${commandPath(c).replace(/ /g, "-")})`),
    "",
    ...leaves.map((c) => section(c, help)),
  ].join("\n");
}
