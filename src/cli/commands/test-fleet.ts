import type { Command } from "commander";
import { ValidationError } from "../../domain/errors.js";
import { MAX_FLEET_HOSTS } from "../../testfleet/harness.js";
import { type FleetUpOptions, fleetDown, fleetUp, superviseFleet } from "../../testfleet/supervisor.js";
import { parseDurationFlag } from "../common.js";
import { withOutputFlags } from "../output/options.js";
import { printJson } from "../output.js";

interface UpFlags {
  hosts: string;
  dir: string;
  groups?: string;
  regions?: string;
  environments?: string;
  heartbeatInterval: string;
}

const list = (value: string | undefined) => (value === undefined ? undefined : value.split(","));

function upOptions(flags: UpFlags): FleetUpOptions {
  const hosts = Number(flags.hosts);
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_FLEET_HOSTS) {
    throw new ValidationError(`--hosts must be a whole number from 1 to ${MAX_FLEET_HOSTS}`, {
      where: "--hosts",
    });
  }
  const groups = list(flags.groups);
  const regions = list(flags.regions);
  const environments = list(flags.environments);
  return {
    dir: flags.dir,
    hosts,
    heartbeatIntervalMs: parseDurationFlag(flags.heartbeatInterval, "--heartbeat-interval"),
    ...(groups ? { groups } : {}),
    ...(regions ? { regions } : {}),
    ...(environments ? { environments } : {}),
  };
}

function withFleetFlags(command: Command): Command {
  return command
    .requiredOption("--hosts <n>", `how many hosts (1 to ${MAX_FLEET_HOSTS})`)
    .requiredOption("--dir <dir>", "a new or empty folder for the fleet's roots, store and packages")
    .option("--groups <g1,g2>", "groups to spread the hosts over", "web")
    .option("--regions <r1,r2>", "regions to spread the hosts over", "local")
    .option("--environments <e1,e2>", "environments to spread the hosts over", "prod")
    .option("--heartbeat-interval <duration>", "how often agents heartbeat", "1s");
}

export function registerTestFleetCommand(program: Command): void {
  const fleet = program
    .command("test-fleet")
    .description(
      "A realistic fleet on this machine to try autopatch against: N hosts, each a private dpkg root with a " +
        "small HTTP service (/health, Prometheus /metrics) whose behaviour follows the version of the fleet's " +
        "package installed there, and a real `autopatch agent` process; plus a server on a SQLite store in " +
        "the fleet's folder. Needs dpkg (apt-get install dpkg).",
    );
  withFleetFlags(
    fleet
      .command("up")
      .description(
        "Start a fleet in the background; returns once every host has reported and prints JSON: server, " +
          "admin token, hosts (name, dpkgRoot, group, region, healthUrl, metricsUrl), package, baseVersion " +
          "and the .deb paths of a good, a bad-health and a bad-metrics version.\n\n" +
          "Example: autopatch test-fleet up --hosts 8 --dir /tmp/fleet --groups web,api --regions eu,us",
      ),
  ).action(async (flags: UpFlags) => {
    printJson(await fleetUp(upOptions(flags)));
  });

  withOutputFlags(
    fleet
      .command("down")
      .description("Stop the fleet in --dir (agents, services, server) and remove the folder it made")
      .requiredOption("--dir <dir>", "the folder given to test-fleet up"),
  ).action(async (flags: { dir: string; json?: boolean }) => {
    const result = await fleetDown(flags.dir);
    if (flags.json) printJson(result);
    else process.stdout.write(`${result.stopped ? "stopped the fleet and " : ""}removed ${result.removed}\n`);
  });

  // The detached process behind `up`; not for people to call.
  withFleetFlags(
    fleet
      .command("supervise", { hidden: true })
      .description("Run a fleet in the foreground until SIGTERM (the detached process behind `up`)"),
  ).action(async (flags: UpFlags) => {
    await superviseFleet(upOptions(flags));
  });
}
