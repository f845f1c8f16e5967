import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Placement } from "../inventory/assets.js";
import { hostPackageSet } from "./catalog.js";
import { buildDeb } from "./deb-builder.js";
import { createDpkgRoot, type DpkgRoot } from "./dpkg-root.js";

export interface FleetHost {
  name: string;
  placement: Required<Pick<Placement, "environment" | "group" | "region" | "labels">>;
  dpkg: DpkgRoot;
  stateDir: string;
}

export interface LocalFleet {
  dir: string;
  debDir: string;
  hosts: FleetHost[];
}

/** Placement of the demo hosts: a staging canary, then production in two regions. */
const PLACEMENTS: ReadonlyArray<FleetHost["placement"]> = [
  { environment: "staging", group: "web", region: "eu-west", labels: {} },
  { environment: "prod", group: "web", region: "eu-west", labels: { exposure: "internet" } },
  { environment: "prod", group: "db", region: "us-east", labels: { data: "sensitive" } },
];

/** Builds the catalog's .debs once and installs each host's package set into its own dpkg root. */
export async function createLocalFleet(dir: string, hostCount = 3): Promise<LocalFleet> {
  const debDir = join(dir, "debs");
  await mkdir(debDir, { recursive: true });
  const hosts: FleetHost[] = [];
  for (let i = 0; i < hostCount; i++) {
    const name = `demo-host-${i + 1}`;
    const dpkg = await createDpkgRoot(join(dir, "hosts", name));
    const debs: string[] = [];
    for (const spec of hostPackageSet(i)) debs.push(await buildDeb(spec, debDir));
    await dpkg.install(debs);
    const placement = PLACEMENTS[i % PLACEMENTS.length] ?? {
      environment: "prod",
      group: "web",
      region: "eu-west",
      labels: {},
    };
    hosts.push({ name, placement, dpkg, stateDir: join(dir, "agents", name) });
  }
  return { dir, debDir, hosts };
}

/** The CLI launcher, for running agents as the separate processes they are in production. */
export const CLI_PATH = fileURLToPath(new URL("../../bin/autopatch.js", import.meta.url));

/** Starts `autopatch agent` for a fleet host as a child process; its log goes to `<stateDir>.log`. */
export function spawnAgent(host: FleetHost, server: string, enrollToken: string): ChildProcess {
  mkdirSync(dirname(host.stateDir), { recursive: true });
  const log = createWriteStream(`${host.stateDir}.log`, { flags: "a" });
  const child = spawn(
    process.execPath,
    [
      CLI_PATH,
      "agent",
      "--server",
      server,
      "--enroll-token",
      enrollToken,
      "--name",
      host.name,
      "--state-dir",
      host.stateDir,
      "--dpkg-root",
      host.dpkg.root,
      "--environment",
      host.placement.environment,
      "--group",
      host.placement.group,
      "--region",
      host.placement.region,
      ...Object.entries(host.placement.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AUTOPATCH_LOG_LEVEL: "info" } },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

/** Stops agents and waits for them to exit. */
export async function stopAgents(agents: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    agents.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5000).unref();
        }),
    ),
  );
}
