import { Argument, Command } from "@commander-js/extra-typings";
import type { Command as ProgramCommand } from "commander";
import { completionCandidates } from "../completion/candidates.js";
import { completionScript, SHELLS } from "../completion/scripts.js";
import { serverNames } from "../completion/server-names.js";

/** `autopatch completion SHELL` and the hidden `__complete` its scripts call. */
export function registerCompletionCommands(program: ProgramCommand): void {
  const completion = new Command("completion")
    .description("Print a shell completion script (commands, options, asset names, change and rollout ids)")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      "\nExamples:\n  source <(autopatch completion bash)\n  autopatch completion zsh > ~/.zfunc/_autopatch   # a folder of $fpath\n  autopatch completion fish | source",
    )
    .action((shell) => {
      process.stdout.write(completionScript(shell));
    });

  const complete = new Command("__complete")
    .description("Print the completions of the last word (used by the completion scripts)")
    .argument("[words...]", "the words after `autopatch`, the last one being completed")
    .allowUnknownOption()
    .helpOption(false)
    .action(async () => {
      // The words as typed, in order: commander would move unknown options behind the operands.
      const words = process.argv.slice(process.argv.indexOf("__complete") + 1);
      // The whole tree, not only this module: completion walks every command.
      const { buildProgram } = await import("../main.js");
      const candidates = await completionCandidates(await buildProgram(), words, serverNames());
      if (candidates.length > 0) process.stdout.write(`${candidates.join("\n")}\n`);
    });

  // The typed commands are commander's own class at run time; only their declared types are richer.
  program.addCommand(completion as unknown as ProgramCommand);
  program.addCommand(complete as unknown as ProgramCommand, { hidden: true });
}
