import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConflictError, ValidationError } from "../domain/errors.js";
import { CLI_PATH } from "../localfleet/fleet.js";
import {
  describeFleet,
  startTestFleet,
  type TestFleetDescription,
  type TestFleetOptions,
} from "./harness.js";

/** Written first into a fleet's folder: `down` removes only folders that carry it. */
const MARKER = ".autopatch-test-fleet";
/** Written once the fleet is ready: the description `up` prints, and the supervisor's pid. */
const STATE = "test-fleet.json";
const LOG = "test-fleet.log";

interface FleetState {
  pid: number;
  fleet: TestFleetDescription;
}

export type FleetUpOptions = Omit<TestFleetOptions, "server" | "inProcessAgents" | "agentLogLevel">;

/**
 * `test-fleet up`: starts a detached supervisor process that runs the fleet (server, services,
 * agents) and returns its description once every host has reported. The fleet keeps running after
 * the command returns, until `test-fleet down`.
 */
export async function fleetUp(options: FleetUpOptions): Promise<TestFleetDescription> {
  const dir = resolve(options.dir);
  claimFolder(dir);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, MARKER),
    "made by autopatch test-fleet; `autopatch test-fleet down` removes this folder\n",
  );
  const log = openSync(join(dir, LOG), "a");
  const args = [CLI_PATH, "test-fleet", "supervise", "--dir", dir, "--hosts", String(options.hosts)];
  if (options.groups) args.push("--groups", options.groups.join(","));
  if (options.regions) args.push("--regions", options.regions.join(","));
  if (options.environments) args.push("--environments", options.environments.join(","));
  if (options.heartbeatIntervalMs)
    args.push("--heartbeat-interval", `${Math.max(1, Math.round(options.heartbeatIntervalMs / 1000))}s`);
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    const state = readState(dir);
    if (state) return state.fleet;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ValidationError(`the test fleet did not start: ${lastLines(join(dir, LOG))}`, { where: dir });
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new ValidationError(`the test fleet was not ready in time; see ${join(dir, LOG)}`, {
        where: dir,
      });
    }
    await sleep(200);
  }
}

/** A folder may hold a new fleet when it is missing, empty, or holds a fleet that no longer runs. */
function claimFolder(dir: string): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  if (!entries.includes(MARKER)) {
    throw new ValidationError(
      `${dir} is not empty and was not made by test-fleet; give a new or empty folder`,
      {
        where: "--dir",
      },
    );
  }
  const state = readState(dir);
  if (state && isAlive(state.pid)) {
    throw new ConflictError(
      `a test fleet already runs in ${dir} (pid ${state.pid}); run test-fleet down first`,
      {
        where: "--dir",
      },
    );
  }
}

/** The supervisor's foreground: runs the fleet until SIGTERM or SIGINT, then stops it. */
export async function superviseFleet(options: FleetUpOptions): Promise<void> {
  const dir = resolve(options.dir);
  const fleet = await startTestFleet({ ...options, dir });
  const state: FleetState = { pid: process.pid, fleet: describeFleet(fleet) };
  // Written under a temporary name and renamed: `up` never reads half a file.
  await writeFile(join(dir, `${STATE}.partial`), JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(join(dir, `${STATE}.partial`), join(dir, STATE));
  await new Promise<void>((done) => {
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
  });
  await fleet.stop();
}

/** `test-fleet down`: stops the supervisor (and with it every agent and service) and removes the folder. */
export async function fleetDown(dirArg: string): Promise<{ stopped: boolean; removed: string }> {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) return { stopped: false, removed: dir };
  if (!existsSync(join(dir, MARKER))) {
    throw new ValidationError(`${dir} was not made by test-fleet; refusing to remove it`, { where: "--dir" });
  }
  const state = readState(dir);
  let stopped = false;
  if (state && isAlive(state.pid)) {
    process.kill(state.pid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (isAlive(state.pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(state.pid)) process.kill(state.pid, "SIGKILL");
    stopped = true;
  }
  await rm(dir, { recursive: true, force: true });
  return { stopped, removed: dir };
}

function readState(dir: string): FleetState | null {
  try {
    return JSON.parse(readFileSync(join(dir, STATE), "utf8")) as FleetState;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lastLines(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    return "no log";
  }
}
