import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  approvedChange,
  auditVerifies,
  describeOperations,
  ended,
  rolloutOf,
  scenarioPolicy,
  useScenario,
  waitRollout,
} from "./harness.js";
import { checkRun, installedVersions, installMarks, installs, Sampler } from "./invariants.js";
import { fleetDeb } from "./packages.js";

/** Trials per store; both stores together make the 20 (more with AUTOPATCH_CRASH_TRIALS). */
const TRIALS = Number(process.env.AUTOPATCH_CRASH_TRIALS ?? 10);
/** Kills land this long after the approval at most: the whole of a short rollout, and a little after. */
const KILL_WINDOW_MS = 2500;

const POLICY = scenarioPolicy(
  "s4",
  `
phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]
observe: 0s
maxUnavailable: 1
failureBudget: {perWave: 0, total: 0}
finalVerification: true
progressDeadline: 2m
`,
);

/** mulberry32: the same seed gives every run the same kill instants. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each([
  ["sqlite", 0x5eed],
  ["postgres", 0x5eee],
] as const)("scenario 4: the server SIGKILLed at random instants (%s)", (dialect, seed) => {
  const scenario = useScenario(
    // Two hosts keep each trial short: a restart costs seconds on a loaded machine.
    { name: `s4-${dialect}`, hosts: 2, groups: ["a", "b"], regions: ["r1"], server: "process", dialect },
    POLICY,
  );

  it(`${TRIALS} trials: after each restart the rollout finishes, no install twice, never over max unavailable`, async () => {
    const s = scenario();
    const random = seeded(seed);
    const report: string[] = [];
    let midRollout = 0;
    for (let trial = 1; trial <= TRIALS; trial++) {
      const version = `2.0.${trial}-1`;
      // Each install takes a second, so that the rollout spans the kill window and most kills land in it.
      const deb = await fleetDeb(s.dir, version, { postinstSleepS: 1 });
      const marks = installMarks(s.fleet.hosts);
      const sampler = new Sampler(s, s.fleet.hosts).start();
      const started = Date.now();
      const changeId = await approvedChange(s, { deb, policy: "s4", selector: "environment=prod" });
      const rolloutId = await rolloutOf(s, changeId);
      sampler.rolloutId = rolloutId;
      const kills = random() < 0.3 ? 2 : 1;
      const at: number[] = [];
      for (let k = 0; k < kills; k++) {
        const delay = Math.floor(random() * KILL_WINDOW_MS);
        await sleep(delay);
        await s.server.kill();
        at.push(Date.now() - started);
        await s.server.restart();
      }
      const view = await waitRollout(s, rolloutId, ended, 90_000);
      await sampler.stop();
      expect(
        view.state,
        `trial ${trial} (kills at ${at.join(", ")} ms): ${JSON.stringify({ failedGate: view.failedGate, reason: view.stateReason, assets: view.assets.map((a) => [a.name, a.state]) })}\n${await describeOperations(s, rolloutId)}`,
      ).toBe("completed");
      const finishedAt = Date.parse(
        (
          await s.store.db
            .selectFrom("rollouts")
            .select("finished_at")
            .where("id", "=", rolloutId)
            .executeTakeFirstOrThrow()
        ).finished_at ?? "",
      );
      if (at.some((t) => started + t < finishedAt)) midRollout += 1;
      await checkRun(s, { changeId, rolloutId, sampler });
      for (const [name, v] of await installedVersions(s.fleet.hosts)) expect(v, name).toBe(version);
      for (const h of s.fleet.hosts) {
        const lines = installs(h.dpkg.root).slice(marks.get(h.name) ?? 0);
        expect(
          lines.filter((l) => l.version === version),
          `trial ${trial}: ${h.name} installed ${version} once`,
        ).toHaveLength(1);
        expect(lines, `trial ${trial}: ${h.name} installed nothing else`).toHaveLength(1);
      }
      report.push(`#${trial} kill at ${at.join("+")} ms, done in ${Date.now() - started} ms`);
    }
    // The point is a server killed while a rollout runs, not after it ended.
    expect(midRollout, report.join("; ")).toBeGreaterThanOrEqual(TRIALS / 2);
    const verified = await auditVerifies(s);
    expect(verified.ok).toBe(true);
    process.stdout.write(
      `scenario 4 (${dialect}): ${TRIALS} trials, ${s.server.starts - 1} kills, ${midRollout} trials killed mid-rollout, chain of ${verified.checked} events verifies\n  ${report.join("\n  ")}\n`,
    );
  }, 900_000);
});
