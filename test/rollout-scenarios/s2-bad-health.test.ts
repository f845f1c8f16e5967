import { describe, expect, it } from "vitest";
import { auditVerifies, describeOperations, scenarioPolicy, useScenario } from "./harness.js";
import { checkInstallsPerKey, checkRun, installedVersions, sampledRollout } from "./invariants.js";

const POLICY = scenarioPolicy(
  "s2",
  `
phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]
observe: 300ms
maxUnavailable: 1
failureBudget: {perWave: 0, total: 0}
rollback: automatic
progressDeadline: 2m
`,
);

interface Incident {
  id: string;
  rolloutId: string;
  whatFailed: Record<string, unknown>;
  assets: Array<{ name?: string; state?: string }>;
  timeline: Array<{ event?: string }>;
  postmortem: { state: string };
}

describe("scenario 2: a bad-health patch", () => {
  const scenario = useScenario(
    { name: "s2", hosts: 6, groups: ["web", "api"], regions: ["eu", "us"] },
    POLICY,
  );

  it("is caught at the canary and rolled back automatically, every host at its old version, with an incident", async () => {
    const s = scenario();
    const { fleet } = s;
    const { marks, sampler, changeId, rolloutId, view } = await sampledRollout(s, {
      deb: fleet.packages.badHealth,
      policy: "s2",
      selector: "environment=prod",
    });

    expect(view.state, await describeOperations(s, rolloutId)).toBe("rolled-back");
    const canary = view.phases[0];
    expect(canary).toMatchObject({ name: "canary", state: "failed" });
    expect(view.phases.slice(1).every((p) => p.state === "pending")).toBe(true);
    const canaryHost = canary?.assets[0] ?? "";
    for (const a of view.assets) {
      expect(a.state, a.name).toBe(a.name === canaryHost ? "reverted" : "pending");
    }
    expect(view.failedGate).toMatchObject({ status: "fail" });
    expect(view.timeToRollbackMs).toBeGreaterThan(0);

    const checked = await checkRun(s, { changeId, rolloutId, sampler });
    // The canary's host really went unhealthy, and only while it was counted out of service.
    expect(sampler.rounds.some((round) => round.some((r) => r.host === canaryHost && r.health === 503))).toBe(
      true,
    );
    expect(checked.samples?.disturbed).toBeGreaterThan(0);
    for (const [name, version] of await installedVersions(fleet.hosts)) {
      expect(version, name).toBe(fleet.packages.baseVersion);
    }
    const counts = await checkInstallsPerKey(s.store, rolloutId, fleet.hosts, marks, {
      from: fleet.packages.baseVersion,
      to: fleet.packages.versions.badHealth,
    });
    for (const [name, c] of counts) {
      expect(c, name).toEqual(
        name === canaryHost ? { patched: 1, reverted: 1 } : { patched: 0, reverted: 0 },
      );
    }
    for (const h of fleet.hosts) expect((await fetch(h.service.healthUrl)).status, h.name).toBe(200);

    expect(view.incidentId).toBeTruthy();
    const incident = await s.admin.get<Incident>(`/api/v1/incidents/${view.incidentId}`);
    expect(incident.rolloutId).toBe(rolloutId);
    expect(incident.postmortem.state).toBe("pending");
    expect(incident.assets.map((a) => a.name)).toEqual([canaryHost]);
    expect(incident.timeline.map((t) => t.event)).toEqual(
      expect.arrayContaining(["rollout.phase.failed", "rollout.rolling-back", "rollout.rolled-back"]),
    );
    expect((await auditVerifies(s)).ok).toBe(true);
    process.stdout.write(
      `scenario 2: caught at the canary (${canaryHost}), time to rollback ${view.timeToRollbackMs} ms, incident ${view.incidentId}\n`,
    );
  }, 180_000);
});
