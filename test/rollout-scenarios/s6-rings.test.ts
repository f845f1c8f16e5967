import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BEHAVIOUR_FILE, FLEET_PACKAGE } from "../../src/testfleet/packages.js";
import { auditVerifies, describeOperations, scenarioPolicy, useScenario } from "./harness.js";
import { checkInstallsPerKey, checkRun, installedVersions, sampledRollout } from "./invariants.js";

const SOAK_MS = 2000;

const POLICY = scenarioPolicy(
  "s6",
  `
phases: [{canary: 1}, {wave: 100%}]
observe: 200ms
maxUnavailable: 1
failureBudget: {perWave: 0, total: 0}
finalVerification: true
progressDeadline: 2m
`,
  `ordering:
  - selector: environment=staging
  - selector: environment=prod
    soak: ${SOAK_MS}ms
    promote: exact
`,
);

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("scenario 6: rings, staging then production with a soak", () => {
  const scenario = useScenario({ name: "s6", hosts: 6, environments: ["staging", "prod"] }, POLICY);

  it("runs staging first, soaks, and production gets the exact artifact staging verified", async () => {
    const s = scenario();
    const { fleet } = s;
    const { marks, sampler, changeId, rolloutId, view } = await sampledRollout(s, {
      deb: fleet.packages.good,
      policy: "s6",
      selector: "environment in (staging,prod)",
    });
    expect(view.state, await describeOperations(s, rolloutId)).toBe("completed");

    const env = new Map(fleet.hosts.map((h) => [h.name, h.environment]));
    const ringPhases = view.phases.filter((p) => p.assets.length > 0 && p.name !== "final-verification");
    const ringOf = (p: (typeof ringPhases)[number]) => new Set(p.assets.map((a) => env.get(a)));
    // Every phase belongs to one ring, and the staging ring's phases all come first.
    const order = ringPhases.map((p) => [...ringOf(p)]);
    for (const o of order) expect(o).toHaveLength(1);
    const firstProd = order.findIndex((o) => o[0] === "prod");
    expect(firstProd).toBeGreaterThan(0);
    expect(order.slice(0, firstProd).every((o) => o[0] === "staging")).toBe(true);
    expect(order.slice(firstProd).every((o) => o[0] === "prod")).toBe(true);
    expect(view.phases[0]?.name).toMatch(/canary/);

    const checked = await checkRun(s, { changeId, rolloutId, sampler });
    // The soak: production's first install waited SOAK_MS after the staging ring's last phase passed.
    const phaseIdx = new Map(view.phases.map((p, i) => [p.name, i]));
    const lastStaging = phaseIdx.get(ringPhases[firstProd - 1]?.name ?? "") ?? -1;
    const stagingPassed = checked.events.find(
      (e) => e.action === "rollout.phase.passed" && Number(e.data.idx) === lastStaging,
    );
    const firstProdPatch = checked.events.find(
      (e) =>
        e.action === "rollout.operation.dispatched" &&
        e.data.action === "patch" &&
        env.get(String(e.data.asset)) === "prod",
    );
    expect(stagingPassed).toBeDefined();
    expect(firstProdPatch).toBeDefined();
    const soaked = (firstProdPatch?.at ?? 0) - (stagingPassed?.at ?? 0);
    expect(soaked).toBeGreaterThanOrEqual(SOAK_MS);

    // Exact promotion: every install, in both rings, was of the one artifact uploaded, byte for byte.
    const uploaded = sha256(fleet.packages.good);
    const ops = await s.store.db
      .selectFrom("operations")
      .select(["action", "payload"])
      .where("rollout_id", "=", rolloutId)
      .where("action", "=", "patch")
      .execute();
    expect(ops).toHaveLength(fleet.hosts.length);
    for (const op of ops) {
      expect((JSON.parse(op.payload) as { artifact?: { sha256: string } }).artifact?.sha256).toBe(uploaded);
    }
    // The plan holds the exact-promotion gate and it passed where the plan put it.
    const gated = checked.plan.phases.findIndex((p) => p.gates.some((g) => g.kind === "exact-promotion"));
    expect(gated).toBeGreaterThanOrEqual(0);
    const exact = view.phases[gated]?.gates.find((g) => g.kind === "exact-promotion");
    expect(exact?.status, JSON.stringify(view.phases[gated])).toBe("pass");
    // What the hosts hold is the same in both rings: the files the package installed, read back.
    const contents = new Set(
      fleet.hosts.map((h) =>
        [BEHAVIOUR_FILE, `/usr/share/${FLEET_PACKAGE}/VERSION`]
          .map((f) => readFileSync(join(h.dpkg.root, f), "utf8"))
          .join("|"),
      ),
    );
    expect(contents.size).toBe(1);
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
      `scenario 6: ${order.length} phases (${order.map((o) => o[0]).join(" → ")}), production waited ${soaked} ms after staging passed (soak ${SOAK_MS} ms); every install of sha256 ${uploaded.slice(0, 12)}…\n`,
    );
  }, 180_000);
});
