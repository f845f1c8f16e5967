import { spawnSync } from "node:child_process";
import { outputSettings } from "./settings.js";

/** The pager for long tables: $AUTOPATCH_PAGER, then $PAGER, then less; empty or `cat` means none. */
function pagerCommand(env: NodeJS.ProcessEnv): string | undefined {
  const command = (env.AUTOPATCH_PAGER ?? env.PAGER ?? "less").trim();
  return command === "" || command === "cat" ? undefined : command;
}

/**
 * Writes text to stdout, through a pager when stdout is a terminal and the text is taller than it
 * (as git does); --no-pager, pipes and files get the text as it is.
 */
export function writePaged(text: string): void {
  const rows = process.stdout.rows;
  const command = pagerCommand(process.env);
  const tall = rows !== undefined && text.split("\n").length > rows;
  if (!outputSettings().pager || process.stdout.isTTY !== true || !tall || command === undefined) {
    process.stdout.write(text);
    return;
  }
  // less: quit when it fits (-F), keep colours (-R), leave the screen as it was (-X), unless set.
  const result = spawnSync(command, {
    input: text,
    shell: true,
    stdio: ["pipe", "inherit", "inherit"],
    env: { LESS: "FRX", ...process.env },
  });
  if (result.error !== undefined || (result.status !== 0 && result.status !== null && result.status > 1))
    process.stdout.write(text);
}
