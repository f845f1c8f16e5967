import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dpkgInstall } from "../src/dpkg/install.js";
import { installedVersionOf } from "../src/dpkg/package-state.js";
import { admindirOf } from "../src/dpkg/root-options.js";
import { buildDeb } from "../src/localfleet/deb-builder.js";
import { FLEET_PACKAGE, FLEET_VERSIONS } from "../src/testfleet/packages.js";
import { runCli } from "./helpers/cli.js";
import {
  applyPolicy,
  describeOperations,
  ended,
  HttpError,
  rolloutOf,
  type Scenario,
  scenarioPolicy,
  startScenario,
  waitRollout,
} from "./rollout-scenarios/harness.js";

const TOOLS = `${FLEET_PACKAGE}-tools`;

const POLICY = scenarioPolicy(
  "also",
  `
phases: [{canary: 1}, {wave: 100%}]
observe: 0s
maxUnavailable: 1
failureBudget: {perWave: 0, total: 0}
rollback: automatic
progressDeadline: 2m
`,
);

/** A second binary of the fleet's source that needs the service at its own version, as openssh's do. */
function toolsDeb(dir: string, version: string): Promise<string> {
  return buildDeb(
    {
      name: TOOLS,
      version,
      source: { name: FLEET_PACKAGE },
      depends: `${FLEET_PACKAGE} (= ${version})`,
      description: "autopatch test: a second binary of the fleet's source",
    },
    dir,
  );
}

async function refusal(p: Promise<unknown>): Promise<{ reason?: string; where?: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpError)
      return (JSON.parse(err.body) as { error: { reason?: string; where?: string } }).error;
    throw err;
  }
  throw new Error("the request was accepted");
}

describe("a change covering two binaries of one source", () => {
  let s: Scenario;
  const debs: Record<string, string> = {};
  beforeAll(async () => {
    s = await startScenario({ name: "also", hosts: 2 });
    await applyPolicy(s, POLICY);
    const dir = `${s.dir}/also-debs`;
    debs.toolsBase = await toolsDeb(dir, FLEET_VERSIONS.base);
    debs.toolsGood = await toolsDeb(dir, FLEET_VERSIONS.good);
    debs.toolsBad = await toolsDeb(dir, FLEET_VERSIONS.badHealth);
    for (const h of s.fleet.hosts) await dpkgInstall(h.dpkg.root, [debs.toolsBase]);
    // The agents report the new package on their next heartbeat.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await s.store.db
        .selectFrom("installed_packages")
        .select("asset_id")
        .where("name", "=", TOOLS)
        .execute();
      if (rows.length === s.fleet.hosts.length) break;
      if (Date.now() > deadline) throw new Error("the agents did not report the tools package");
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 180_000);
  afterAll(async () => {
    await s?.close();
  });

  const versions = async (name: string) =>
    Promise.all(s.fleet.hosts.map((h) => installedVersionOf(admindirOf(h.dpkg.root), name)));

  async function change(files: string[], extra: Record<string, unknown> = {}): Promise<{ id: string }> {
    const uploaded = [];
    for (const f of files) uploaded.push(await s.admin.upload(f));
    const first = uploaded[0];
    if (!first) throw new Error("no file");
    return s.admin.post<{ id: string }>("/api/v1/changes", {
      package: first.package,
      version: first.version,
      alsoPackages: [TOOLS],
      artifacts: uploaded.map((a) => ({ name: a.fileName, sha256: a.sha256 })),
      selector: "",
      policy: "also",
      justification: "both binaries",
      ...extra,
    });
  }

  async function run(id: string) {
    await s.admin.post(`/api/v1/changes/${id}/submit`, { reason: "test" });
    await s.approver.post(`/api/v1/changes/${id}/approve`, { reason: "test" });
    return waitRollout(s, await rolloutOf(s, id), ended, 120_000);
  }

  it("refuses files that leave an installed binary out, or are of another version", async () => {
    const good = await s.admin.upload(s.fleet.packages.good);
    expect(
      await refusal(
        s.admin.post("/api/v1/changes", {
          package: good.package,
          version: good.version,
          alsoPackages: [TOOLS],
          artifact: { name: good.fileName, sha256: good.sha256 },
          artifacts: [{ name: good.fileName, sha256: good.sha256 }],
          selector: "",
          policy: "also",
          justification: "only one",
        }),
      ),
    ).toMatchObject({ reason: "change.artifact-missing", where: "/body/artifacts" });
    expect(await refusal(change([s.fleet.packages.good, debs.toolsBase as string]))).toMatchObject({
      reason: "change.artifact-mismatch",
      where: "/body/artifacts/1",
    });
  });

  it("installs both in one dpkg call, verifies both, and a failed one reverts both", async () => {
    // `change create --artifact` repeated: the first names the change's package, the others its alsoPackages.
    const created = await runCli(
      [
        "change",
        "create",
        "--artifact",
        s.fleet.packages.good,
        "--artifact",
        debs.toolsGood as string,
        "--selector",
        "",
        "--policy",
        "also",
        "--justification",
        "both binaries",
        "--json",
      ],
      s.env,
    );
    expect(created.code, created.stderr).toBe(0);
    const good = JSON.parse(created.stdout) as { id: string };
    const shown = await runCli(["change", "show", good.id, "--json"], s.env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      patch: {
        package: FLEET_PACKAGE,
        alsoPackages: [TOOLS],
        version: FLEET_VERSIONS.good,
        alsoArtifacts: [{ package: TOOLS }],
      },
    });
    const done = await run(good.id);
    expect(done.state, await describeOperations(s, done.id)).toBe("completed");
    expect(await versions(FLEET_PACKAGE)).toEqual([FLEET_VERSIONS.good, FLEET_VERSIONS.good]);
    expect(await versions(TOOLS)).toEqual([FLEET_VERSIONS.good, FLEET_VERSIONS.good]);

    const bad = await change([s.fleet.packages.badHealth, debs.toolsBad as string]);
    const back = await run(bad.id);
    expect(back.state).toBe("rolled-back");
    // The canary went to the bad version of both and came back to the good version of both.
    expect(await versions(FLEET_PACKAGE)).toEqual([FLEET_VERSIONS.good, FLEET_VERSIONS.good]);
    expect(await versions(TOOLS)).toEqual([FLEET_VERSIONS.good, FLEET_VERSIONS.good]);
    const snapshot = await s.store.db
      .selectFrom("operations")
      .select(["result"])
      .where("action", "=", "patch")
      .where("rollout_id", "=", back.id)
      .executeTakeFirstOrThrow();
    const recorded = (
      JSON.parse(snapshot.result ?? "{}") as { snapshot?: { packages: Array<{ name: string }> } }
    ).snapshot?.packages.map((p) => p.name);
    expect(recorded?.sort()).toEqual([FLEET_PACKAGE, TOOLS]);
  });
});
