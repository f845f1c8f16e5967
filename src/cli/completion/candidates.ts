import type { Command, Option } from "commander";

/** What a positional argument names, when the server can list its values (asset names, change ids, …). */
export type DynamicKind = "assets" | "changes" | "rollouts" | "incidents";

/** Looks up names of a kind on the server; the empty list when none is reachable. */
export type NameSource = (kind: DynamicKind, flags: Readonly<Record<string, string>>) => Promise<string[]>;

/** Which positional arguments name server objects: `<group>:<argument>`, or `*:<argument>` for any group. */
const DYNAMIC: Readonly<Record<string, DynamicKind>> = {
  "assets:name": "assets",
  "*:asset": "assets",
  "change:id": "changes",
  "rollout:id": "rollouts",
  "incident:id": "incidents",
};

function findOption(command: Command, word: string): Option | undefined {
  for (let c: Command | null = command; c !== null; c = c.parent) {
    const hit = c.options.find((o) => o.long === word || o.short === word);
    if (hit) return hit;
  }
  return undefined;
}

const takesValue = (o: Option): boolean => o.required || o.optional;

/**
 * The completions of the last word of `words` (the words after `autopatch`, the last one being
 * completed, possibly empty): subcommands, options, an option's or argument's choices, or names the
 * server knows for the argument in that position.
 */
export async function completionCandidates(
  program: Command,
  words: readonly string[],
  names: NameSource,
): Promise<string[]> {
  const current = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  let command = program;
  const path: string[] = [];
  let positional = 0;
  const flags: Record<string, string> = {};
  for (let i = 0; i < before.length; i++) {
    const word = before[i] ?? "";
    if (word === "--") break;
    if (word.startsWith("-")) {
      const [name = "", inline] = word.split("=", 2);
      const option = findOption(command, name);
      if (option && takesValue(option) && inline === undefined) {
        const value = before[i + 1];
        if (value !== undefined) flags[option.attributeName()] = value;
        i += 1;
      } else if (option && inline !== undefined) {
        flags[option.attributeName()] = inline;
      }
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && positional === 0) {
      command = sub;
      path.push(sub.name());
    } else {
      positional += 1;
    }
  }
  const matching = (list: readonly string[]) => [...new Set(list)].filter((c) => c.startsWith(current));

  const previous = before.at(-1);
  if (previous?.startsWith("-") && !previous.includes("=")) {
    const option = findOption(command, previous);
    if (option && takesValue(option)) return matching(option.argChoices ?? []);
  }
  if (current.startsWith("-")) {
    const options = command.options.filter((o) => !o.hidden && o.long).map((o) => o.long ?? "");
    return matching([...options, "--help"]);
  }
  const subcommands = command
    .createHelp()
    .visibleCommands(command)
    .filter((c) => c.name() !== "help");
  if (subcommands.length > 0 && positional === 0) return matching(subcommands.map((c) => c.name()));
  const args = command.registeredArguments;
  const argument = args[positional] ?? (args.at(-1)?.variadic ? args.at(-1) : undefined);
  if (argument === undefined) return [];
  if (argument.argChoices) return matching(argument.argChoices);
  const group = path[0] ?? "";
  const kind = DYNAMIC[`${group}:${argument.name()}`] ?? DYNAMIC[`*:${argument.name()}`];
  return kind === undefined ? [] : matching(await names(kind, flags));
}
