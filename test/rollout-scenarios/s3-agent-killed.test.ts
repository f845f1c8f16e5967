import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAgent } from "../../src/localfleet/fleet.js";
import type { TestFleetHost } from "../../src/testfleet/harness.js";
import { FLEET_PACKAGE } from "../../src/testfleet/packages.js";
import {
  applyPolicy,
  approvedChange,
  auditVerifies,
  describeOperations,
  ended,
  HEARTBEAT_MS,
  rolloutOf,
  type Scenario,
  scenarioPolicy,
  showRollout,
  startScenario,
  waitRollout,
} from "./harness.js";
import {
  checkInstallsPerKey,
  checkRun,
  dpkgQuery,
  installedVersions,
  installMarks,
  planOf,
  rolloutEvents,
  Sampler,
} from "./invariants.js";
import { fleetDeb } from "./packages.js";

const policy = (name: string, budget: number) =>
  scenarioPolicy(
    name,
    `
phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]
observe: 200ms
maxUnavailable: 2
failureBudget: {perWave: ${budget}, total: ${budget}}
rollback: automatic
progressDeadline: 2m
`,
  );

/** How long after its last heartbeat a host holding an operation is declared lost, plus an engine pass and load. */
const DETECTION_BOUND_MS = 2 * HEARTBEAT_MS + 1500;

describe("scenario 3: an agent killed with SIGKILL mid-install", () => {
  let s: Scenario;
  let slowDeb = "";
  const restarted: ChildProcess[] = [];
  beforeAll(async () => {
    s = await startScenario({ name: "s3", hosts: 4, groups: ["web", "api"], regions: ["eu", "us"] });
    await applyPolicy(s, policy("s3-budget0", 0));
    await applyPolicy(s, policy("s3-budget1", 1));
    // Healthy, but its postinst takes 2 s: long enough to kill the agent while dpkg is really at work.
    slowDeb = await fleetDeb(s.dir, "1.1.5-1", { postinstSleepS: 2 });
  }, 180_000);
  afterAll(async () => {
    for (const child of restarted) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    }
    await s?.close();
  });

  /** Waits until dpkg is mid-install of the victim's package, then SIGKILLs its agent; returns when. */
  async function killMidInstall(host: TestFleetHost): Promise<number> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = await dpkgQuery(host.dpkg.root);
      if (status !== null && status !== "ii ") break;
      if (Date.now() > deadline) throw new Error(`${host.name} never started installing`);
      await sleep(20);
    }
    const agent = currentAgent(host);
    const exited = once(agent, "exit");
    agent.kill("SIGKILL");
    const at = Date.now();
    await exited;
    return at;
  }

  const agents = new Map<string, ChildProcess>();
  const currentAgent = (host: TestFleetHost) => agents.get(host.name) ?? host.agent;

  async function restartAgent(host: TestFleetHost): Promise<void> {
    const enroll = await s.admin.post<{ token: string }>("/api/v1/agent-tokens", { reusable: false });
    const child = spawnAgent(host, s.server.url, enroll.token);
    agents.set(host.name, child);
    restarted.push(child);
  }

  async function run(policyName: string, victimPhase: number) {
    const marks = installMarks(s.fleet.hosts);
    const sampler = new Sampler(s, s.fleet.hosts).start();
    const changeId = await approvedChange(s, {
      deb: slowDeb,
      policy: policyName,
      selector: "environment=prod",
    });
    const plan = await planOf(s.store, changeId);
    const victimName = plan.phases[victimPhase]?.assets[0]?.name ?? "";
    const victim = s.fleet.hosts.find((h) => h.name === victimName) as TestFleetHost;
    const rolloutId = await rolloutOf(s, changeId);
    sampler.rolloutId = rolloutId;
    const killedAt = await killMidInstall(victim);
    const failedView = await waitRollout(
      s,
      rolloutId,
      (r) => r.assets.find((a) => a.name === victimName)?.state === "failed" || r.state !== "running",
      30_000,
    );
    const events = await rolloutEvents(s.store, rolloutId);
    const failed = events.find((e) => e.action === "rollout.asset.failed" && e.data.asset === victimName);
    expect(failed, `${victimName} was never marked failed: ${JSON.stringify(failedView)}`).toBeDefined();
    const detectedMs = (failed?.at ?? 0) - killedAt;
    expect(detectedMs).toBeLessThanOrEqual(DETECTION_BOUND_MS);
    return { changeId, rolloutId, victim, sampler, marks, detectedMs };
  }

  it("with a failure budget of 0: detected within two heartbeats, counted, and the change rolls back", async () => {
    const r = await run("s3-budget0", 1);
    // The host's agent comes back (same state dir and credential) so that its host can be reverted.
    await restartAgent(r.victim);
    const view = await waitRollout(s, r.rolloutId, (v) => ended(v), 90_000);
    await r.sampler.stop();
    expect(view.state, `${JSON.stringify(view)}\n${await describeOperations(s, r.rolloutId)}`).toBe(
      "rolled-back",
    );
    // Agents send their inventory before each result: once the rollout has ended, the server knows.
    for (const h of s.fleet.hosts) {
      const asset = await s.admin.get<{ packages: Array<{ name: string; version: string }> }>(
        `/api/v1/assets/${h.name}`,
      );
      expect(asset.packages.find((p) => p.name === FLEET_PACKAGE)?.version, h.name).toBe(
        s.fleet.packages.baseVersion,
      );
    }
    const victim = view.assets.find((a) => a.name === r.victim.name);
    expect(victim?.state).toBe("reverted");
    const lost = await s.store.db
      .selectFrom("operations")
      .select(["state", "error"])
      .where("rollout_id", "=", r.rolloutId)
      .where("action", "=", "patch")
      .where("state", "=", "lost")
      .execute();
    expect(lost).toHaveLength(1);
    expect(view.failedGate).toMatchObject({ kind: "failure-budget", status: "fail" });
    await checkRun(s, { changeId: r.changeId, rolloutId: r.rolloutId, sampler: r.sampler });
    for (const [name, version] of await installedVersions(s.fleet.hosts)) {
      expect(version, name).toBe(s.fleet.packages.baseVersion);
    }
    const counts = await checkInstallsPerKey(s.store, r.rolloutId, s.fleet.hosts, r.marks, {
      from: s.fleet.packages.baseVersion,
      to: "1.1.5-1",
    });
    // Its dpkg may finish alone or die with the agent's pipes (left half-configured): at most one install.
    expect(counts.get(r.victim.name)?.patched).toBeLessThanOrEqual(1);
    expect(counts.get(r.victim.name)?.reverted).toBe(1);
    expect((await auditVerifies(s)).ok).toBe(true);
    process.stdout.write(
      `scenario 3 (budget 0): ${r.victim.name} killed mid-install, lost after ${r.detectedMs} ms (heartbeat ${HEARTBEAT_MS} ms), rolled back in ${view.timeToRollbackMs} ms\n`,
    );
  }, 180_000);

  it("with a failure budget of 1: detected, counted, and the rollout goes on without that host", async () => {
    const r = await run("s3-budget1", 1);
    const view = await waitRollout(s, r.rolloutId, ended, 90_000);
    await r.sampler.stop();
    expect(view.state, await describeOperations(s, r.rolloutId)).toBe("completed");
    for (const a of view.assets) expect(a.state, a.name).toBe(a.name === r.victim.name ? "failed" : "done");
    await checkRun(s, { changeId: r.changeId, rolloutId: r.rolloutId, sampler: r.sampler });
    const versions = await installedVersions(s.fleet.hosts);
    for (const h of s.fleet.hosts)
      if (h.name !== r.victim.name) expect(versions.get(h.name), h.name).toBe("1.1.5-1");
    const counts = await checkInstallsPerKey(s.store, r.rolloutId, s.fleet.hosts, r.marks, {
      from: s.fleet.packages.baseVersion,
      to: "1.1.5-1",
    });
    for (const [name, c] of counts) {
      if (name === r.victim.name) expect(c.patched, name).toBeLessThanOrEqual(1);
      else expect(c.patched, name).toBe(1);
    }
    const shown = await showRollout(s, r.rolloutId);
    expect(shown.assets.find((a) => a.name === r.victim.name)?.attempt).toBe(1);
    expect((await auditVerifies(s)).ok).toBe(true);
    process.stdout.write(
      `scenario 3 (budget 1): ${r.victim.name} lost after ${r.detectedMs} ms, counted against the budget, the other hosts completed\n`,
    );
  }, 180_000);
});
