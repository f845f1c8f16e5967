import type { Command } from "commander";
import { runAgent } from "../../agent/agent.js";
import { ValidationError } from "../../domain/errors.js";
import { ASSET_KINDS, type AssetKind } from "../../domain/inventory.js";
import { createLogger } from "../../service/logger.js";
import { collectKeyValue } from "../common.js";
import { onShutdown } from "../graceful.js";

interface AgentFlags {
  server: string;
  enrollToken?: string;
  name?: string;
  stateDir: string;
  dpkgRoot?: string;
  kind?: string;
  environment?: string;
  group?: string;
  region?: string;
  label?: Record<string, string>;
}

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .summary("Run the host agent")
    .description(
      "Run the host agent: enroll once with an enrollment token (pinning the server's signing key), then " +
        "heartbeat, report installed packages on start and whenever they change, and run the operations " +
        "the server leases to this host (snapshot, install a signed .deb, verify, revert), journaling each " +
        "one so it never runs twice. Placement flags apply on first enrollment only.",
    )
    .requiredOption("--server <url>", "server URL")
    .option("--enroll-token <token>", "enrollment token (needed until the agent has enrolled)")
    .option("--name <name>", "asset name (default: the host name)")
    .option(
      "--state-dir <dir>",
      "where the agent keeps its credential and operation journal (mode 0600) and pre-patch .debs",
      "/var/lib/autopatch-agent",
    )
    .option("--dpkg-root <dir>", "a root holding the dpkg database to report (default: this system)")
    .option("--kind <kind>", `asset kind: ${ASSET_KINDS.join(", ")}`)
    .option("--environment <env>", "environment, e.g. prod")
    .option("--group <group>", "group, e.g. web")
    .option("--region <region>", "region, e.g. eu-west")
    .option("--label <key=value>", "a label (repeatable)", collectKeyValue)
    .action(async (flags: AgentFlags) => {
      if (flags.kind !== undefined && !(ASSET_KINDS as readonly string[]).includes(flags.kind)) {
        throw new ValidationError(`unknown kind "${flags.kind}": use ${ASSET_KINDS.join(", ")}`, {
          where: "--kind",
        });
      }
      const controller = new AbortController();
      const logger = createLogger();
      const running = runAgent({
        server: flags.server,
        stateDir: flags.stateDir,
        logger,
        signal: controller.signal,
        ...(flags.enrollToken ? { enrollToken: flags.enrollToken } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.dpkgRoot ? { dpkgRoot: flags.dpkgRoot } : {}),
        placement: {
          ...(flags.kind ? { kind: flags.kind as AssetKind } : {}),
          ...(flags.environment ? { environment: flags.environment } : {}),
          ...(flags.group ? { group: flags.group } : {}),
          ...(flags.region ? { region: flags.region } : {}),
          ...(flags.label ? { labels: flags.label } : {}),
        },
      });
      // A signal stops the agent's loops (it hands its leases back) and exits once they have ended.
      const grace = onShutdown(logger, async () => {
        controller.abort();
        await running.catch(() => undefined);
      });
      try {
        await running;
      } catch (err) {
        // Stopped by a signal while it waited for the server: that is a shutdown, not a failure.
        if (!controller.signal.aborted) throw err;
      } finally {
        grace.uninstall();
      }
    });
}
