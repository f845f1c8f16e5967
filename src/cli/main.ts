import { Command, CommanderError } from "commander";
import { PRODUCT_VERSION } from "../domain/product-version.js";
import { configureHelpConventions } from "./help/conventions.js";
import { applyOutputFlags, argvWantsMachineOutput } from "./output/options.js";
import { endQuietlyOnClosedPipe } from "./output/pipe.js";
import { reportError } from "./output.js";

type Register = (program: Command) => unknown;

/**
 * The command modules, in the order of `--help`. Each is loaded only when one of its commands runs
 * (or for the full help), so a command does not pay for the server, the store and every parser at
 * start-up. The summaries here are the one place the top-level help takes its lines from.
 */
export const COMMAND_MODULES: ReadonlyArray<{
  commands: Readonly<Record<string, string>>;
  load: () => Promise<Register>;
}> = [
  {
    commands: { server: "Run the API server" },
    load: async () => (await import("./commands/server.js")).registerServerCommand,
  },
  {
    commands: { agent: "Run the host agent" },
    load: async () => (await import("./commands/agent.js")).registerAgentCommand,
  },
  {
    commands: { migrate: "Apply pending database migrations" },
    load: async () => (await import("./commands/migrate.js")).registerMigrateCommand,
  },
  {
    commands: { assets: "List, inspect, label and re-enroll assets" },
    load: async () => (await import("./commands/assets.js")).registerAssetsCommand,
  },
  {
    commands: { inventory: "Import inventories from files" },
    load: async () => (await import("./commands/inventory.js")).registerInventoryCommand,
  },
  {
    commands: { advisories: "Import and inspect advisories (OSV, CISA KEV, EPSS)" },
    load: async () => (await import("./commands/advisories.js")).registerAdvisoriesCommand,
  },
  {
    commands: { scan: "Scan a dpkg status file or an SBOM against OSV advisories offline" },
    load: async () => (await import("./commands/scan.js")).registerScanCommand,
  },
  {
    commands: {
      findings: "Vulnerability findings: list, explain, accept a risk, mark not affected, reopen, re-match",
      vulnerabilities: "Vulnerabilities across the fleet: which assets have one",
    },
    load: async () => (await import("./commands/findings.js")).registerFindingsCommands,
  },
  {
    commands: { token: "Manage API tokens (admin)" },
    load: async () => (await import("./commands/tokens.js")).registerTokenCommands,
  },
  {
    commands: { "agent-token": "Manage agent enrollment tokens (admin): create, list, show, revoke" },
    load: async () => (await import("./commands/agent-tokens.js")).registerAgentTokenCommands,
  },
  {
    commands: { principal: "People and service accounts that tokens belong to (admin)" },
    load: async () => (await import("./commands/principals.js")).registerPrincipalCommands,
  },
  {
    commands: { audit: "Read and verify the hash-chained audit log" },
    load: async () => (await import("./commands/audit.js")).registerAuditCommand,
  },
  {
    commands: {
      policy: "Policy files: validate, apply, list, show; the JSON Schema and the built-in default",
    },
    load: async () => (await import("./commands/policy.js")).registerPolicyCommand,
  },
  {
    commands: {
      windows: "Maintenance windows and freezes: the next openings, and whether a change may start",
    },
    load: async () => (await import("./commands/windows.js")).registerWindowsCommand,
  },
  {
    commands: { change: "Change requests: create, submit, approve, plan, review" },
    load: async () => (await import("./commands/change.js")).registerChangeCommands,
  },
  {
    commands: {
      rollout:
        "Rollouts: list, show, watch; pause, resume, abort, retry, skip, promote; stop-all and resume-all",
    },
    load: async () => (await import("./commands/rollout.js")).registerRolloutCommands,
  },
  {
    commands: { incident: "Incidents of failed or rolled-back rollouts: list, show, close" },
    load: async () => (await import("./commands/incident.js")).registerIncidentCommands,
  },
  {
    commands: { artifact: "Package files in the server's signed artifact store: upload, list, show" },
    load: async () => (await import("./commands/artifact.js")).registerArtifactCommands,
  },
  {
    commands: { "test-fleet": "Run a local test fleet: hosts with agents, services and real .deb packages" },
    load: async () => (await import("./commands/test-fleet.js")).registerTestFleetCommand,
  },
  {
    commands: { config: "Contexts: server, token and default output per environment, as kubectl keeps them" },
    load: async () => (await import("./commands/config.js")).registerConfigCommand,
  },
  {
    commands: { version: "Print the client's and the server's versions" },
    load: async () => (await import("./commands/version.js")).registerVersionCommand,
  },
  {
    commands: {
      completion: "Shell completion for bash, zsh and fish",
      __complete: "Completions of a command line (used by the completion scripts)",
    },
    load: async () => (await import("./commands/completion.js")).registerCompletionCommands,
  },
  {
    commands: { versions: "Parse and order package versions as each ecosystem's own tool does" },
    load: async () => (await import("./commands/versions.js")).registerVersionsCommand,
  },
];

function baseProgram(): Command {
  return new Command("autopatch")
    .description(
      "Policy-driven patch orchestrator: inventory, vulnerabilities, policy, health-gated rollouts and a tamper-evident audit log.\n\n" +
        "Client commands talk to a server: --server or $AUTOPATCH_SERVER, --token or $AUTOPATCH_TOKEN.",
    )
    .configureHelp({ helpWidth: 110 })
    .version(PRODUCT_VERSION)
    .showHelpAfterError()
    .exitOverride()
    .hook("preAction", (_program, action) => applyOutputFlags(action));
}

/**
 * The program with the modules of `only` loaded (all of them when omitted); the others appear as
 * stubs that carry their summary for the top-level help.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = baseProgram();
  for (const module of COMMAND_MODULES) {
    if (only === undefined || only in module.commands) {
      (await module.load())(program);
      for (const [name, summary] of Object.entries(module.commands)) {
        program.commands.find((c) => c.name() === name)?.summary(summary);
      }
    } else {
      for (const [name, summary] of Object.entries(module.commands)) {
        // `__name` commands are internal (the completion scripts call them) and stay out of the help.
        program.command(name, { hidden: name.startsWith("__") }).summary(summary);
      }
    }
  }
  configureHelpConventions(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  endQuietlyOnClosedPipe();
  const first = argv.slice(2).find((a) => !a.startsWith("-"));
  const known = first !== undefined && COMMAND_MODULES.some((m) => first in m.commands);
  try {
    const program = await buildProgram(known ? first : first === undefined ? "" : undefined);
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit through here with code 0; usage errors were already printed.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(err, argvWantsMachineOutput(argv));
  }
}
