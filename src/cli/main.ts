import { Command, CommanderError } from "commander";
import { registerAgentCommand } from "./commands/agent.js";
import { registerAssetsCommand } from "./commands/assets.js";
import { registerAuditCommand } from "./commands/audit.js";
import { registerInventoryCommand } from "./commands/inventory.js";
import { registerMigrateCommand } from "./commands/migrate.js";
import { registerPolicyCommand } from "./commands/policy.js";
import { registerServerCommand } from "./commands/server.js";
import { registerTokenCommands } from "./commands/tokens.js";
import { registerVersionsCommand } from "./commands/versions.js";
import { registerWindowsCommand } from "./commands/windows.js";
import { reportError } from "./output.js";

/** Each command module adds its commands to the program. Keep this list in the order of `--help`. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerServerCommand,
  registerAgentCommand,
  registerMigrateCommand,
  registerAssetsCommand,
  registerInventoryCommand,
  registerTokenCommands,
  registerAuditCommand,
  registerPolicyCommand,
  registerWindowsCommand,
  registerVersionsCommand,
];

export function buildProgram(): Command {
  const program = new Command("autopatch")
    .description(
      "Policy-driven patch orchestrator: inventory, vulnerabilities, policy, health-gated rollouts and a tamper-evident audit log.\n\n" +
        "Client commands talk to a server: --server or $AUTOPATCH_SERVER, --token or $AUTOPATCH_TOKEN.",
    )
    .configureHelp({ helpWidth: 110 })
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit through here with code 0; usage errors were already printed.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(err, argv.includes("--json"));
  }
}
