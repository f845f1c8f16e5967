import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import {
  auditVerifies,
  describeOperations,
  ended,
  type RolloutShow,
  scenarioPolicy,
  useScenario,
  waitRollout,
} from "./harness.js";
import { checkInstallsPerKey, checkRun, installedVersions, installMarks, Sampler } from "./invariants.js";

const POLICY = scenarioPolicy(
  "s1",
  `
phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]
observe: 300ms
maxUnavailable: 2
failureBudget: {perWave: 0, total: 0}
finalVerification: true
progressDeadline: 2m
`,
);

describe("scenario 1: a good patch on 20 hosts in two groups and two regions", () => {
  const scenario = useScenario(
    { name: "s1", hosts: 20, groups: ["web", "api"], regions: ["eu", "us"] },
    POLICY,
  );

  it("goes canary → 25 % → 75 % within max unavailable, every host at the new version, one install each", async () => {
    const s = scenario();
    const { fleet } = s;
    const marks = installMarks(fleet.hosts);
    const sampler = new Sampler(s, fleet.hosts).start();
    const t0 = Date.now();
    // The interfaces scripts rely on: change create --artifact --json, change show --json, rollout show --json.
    const created = await runCli(
      [
        "change",
        "create",
        "--package",
        fleet.packages.package,
        "--version",
        fleet.packages.versions.good,
        "--artifact",
        fleet.packages.good,
        "--selector",
        // The stable interface: "" means every asset.
        "",
        "--policy",
        "s1",
        "--justification",
        "good patch",
        "--json",
      ],
      s.env,
    );
    expect(created.stderr).toBe("");
    const changeId = (JSON.parse(created.stdout) as { id: string }).id;
    expect((await runCli(["change", "submit", changeId, "--reason", "s1"], s.env)).code).toBe(0);
    const approved = await runCli(["change", "approve", changeId, "--reason", "CAB"], {
      ...s.env,
      AUTOPATCH_TOKEN: s.approver.token,
    });
    expect(approved.code).toBe(0);
    let rolloutId = "";
    for (let i = 0; i < 100 && rolloutId === ""; i++) {
      const shown = await runCli(["change", "show", changeId, "--json"], s.env);
      rolloutId = (JSON.parse(shown.stdout) as { rolloutId?: string | null }).rolloutId ?? "";
      if (rolloutId === "") await new Promise((r) => setTimeout(r, 200));
    }
    expect(rolloutId).not.toBe("");
    sampler.rolloutId = rolloutId;
    const finalView = await waitRollout(s, rolloutId, ended, 150_000);
    const seconds = (Date.now() - t0) / 1000;
    await sampler.stop();

    // When it did not complete, say why: the rollout's reason, the gate that failed and the operations.
    const why =
      finalView.state === "completed"
        ? ""
        : `${finalView.stateReason} ${JSON.stringify(finalView.failedGate)}\n${await describeOperations(s, rolloutId)}`;
    expect(finalView.state, why).toBe("completed");
    const shown = await runCli(["rollout", "show", rolloutId, "--json"], s.env);
    expect(shown.code).toBe(0);
    const view = JSON.parse(shown.stdout) as RolloutShow;
    expect(view.phases.map((p) => [p.name, p.state, p.assets.length])).toEqual([
      ["canary", "passed", 1],
      expect.arrayContaining(["wave-1", "passed"]),
      expect.arrayContaining(["wave-2", "passed"]),
      ...(view.phases.length > 3 ? [expect.arrayContaining(["passed"])] : []),
    ]);
    expect(view.assets).toHaveLength(20);
    for (const a of view.assets) {
      expect(a).toMatchObject({
        state: "done",
        fromVersion: fleet.packages.baseVersion,
        toVersion: fleet.packages.versions.good,
      });
      expect(Date.parse(a.startedAt ?? "")).toBeLessThanOrEqual(Date.parse(a.finishedAt ?? ""));
    }

    const checked = await checkRun(s, { changeId, rolloutId, sampler });
    // Waves ran hosts side by side, never more than allowed.
    expect(checked.mostOut).toBeGreaterThan(1);
    expect(checked.samples?.rounds).toBeGreaterThan(5);
    for (const [name, version] of await installedVersions(fleet.hosts)) {
      expect(version, name).toBe(fleet.packages.versions.good);
    }
    const counts = await checkInstallsPerKey(s.store, rolloutId, fleet.hosts, marks, {
      from: fleet.packages.baseVersion,
      to: fleet.packages.versions.good,
    });
    for (const [name, c] of counts) expect(c, name).toEqual({ patched: 1, reverted: 0 });
    expect((await auditVerifies(s)).ok).toBe(true);
    process.stdout.write(
      `scenario 1: 20 hosts completed in ${seconds.toFixed(1)} s; most out at once ${checked.mostOut}; ${checked.samples?.rounds} sample rounds, ${checked.samples?.disturbed} disturbed readings, at most ${checked.samples?.mostAtOnce} hosts at once\n`,
    );
  }, 240_000);
});
