import { type Command, Help, type Option } from "commander";
import { EXAMPLES } from "./examples.js";

/** A command's path after `autopatch`: `assets list`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** A command's examples; a group of commands shows the first of each of its commands'. */
export function examplesFor(command: Command): readonly string[] {
  const own = EXAMPLES[commandPath(command)];
  if (own !== undefined) return own;
  return command.commands.flatMap((c) => examplesFor(c).slice(0, 1)).slice(0, 5);
}

/** An option's help line, ending in `(required)` when it must be given. */
export function optionDescription(help: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(help, option);
  return option.mandatory ? `${text} (required)` : text;
}

function conventions(command: Command): void {
  command.configureHelp({
    ...command.configureHelp(),
    optionDescription(this: Help, option: Option) {
      return optionDescription(this, option);
    },
  });
  const examples = examplesFor(command);
  if (command.parent !== null && examples.length > 0)
    command.addHelpText("after", `\nExamples:\n${examples.map((e) => `  $ ${e}`).join("\n")}\n`);
  for (const sub of command.commands) conventions(sub);
}

/** Every command's help marks its required options and ends with examples. */
export function configureHelpConventions(program: Command): void {
  conventions(program);
}
