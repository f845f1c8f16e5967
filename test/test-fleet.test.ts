import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDpkgRoot } from "../src/localfleet/dpkg-root.js";
import type { TestFleetDescription } from "../src/testfleet/harness.js";
import { installLogPath } from "../src/testfleet/packages.js";
import { runCli } from "./helpers/cli.js";

/** Fails the file with an install hint instead of skipping when dpkg is missing. */
for (const tool of ["dpkg-deb", "dpkg", "dpkg-query"]) {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`]);
  } catch {
    throw new Error(`test/test-fleet.test.ts requires ${tool}: apt-get install dpkg`);
  }
}

/** Sums a Prometheus counter (every label set) from exposition text. */
function counter(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

async function metrics(url: string): Promise<{ requests: number; errors: number }> {
  const text = await (await fetch(url)).text();
  return {
    requests: counter(text, "fleet_http_requests_total"),
    errors: counter(text, "fleet_http_request_errors_total"),
  };
}

describe("test-fleet up|down", () => {
  const base = mkdtempSync(join(tmpdir(), "autopatch-testfleet-"));
  const dir = join(base, "fleet");
  let fleet: TestFleetDescription;

  beforeAll(async () => {
    const up = await runCli([
      "test-fleet",
      "up",
      "--hosts",
      "4",
      "--dir",
      dir,
      "--groups",
      "web,api",
      "--regions",
      "eu,us",
    ]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    fleet = JSON.parse(up.stdout) as TestFleetDescription;
  }, 120_000);

  afterAll(async () => {
    await runCli(["test-fleet", "down", "--dir", dir]);
    rmSync(base, { recursive: true, force: true });
  });

  it("prints the promised shape, with hosts spread evenly over groups and regions", () => {
    expect(fleet.hosts).toHaveLength(4);
    expect(new Set(fleet.hosts.map((h) => `${h.group}/${h.region}`))).toEqual(
      new Set(["web/eu", "api/eu", "web/us", "api/us"]),
    );
    expect(fleet.package).toBe("fleet-service");
    for (const path of Object.values(fleet.packages)) expect(existsSync(path)).toBe(true);
    const cmp = (a: string, op: string, b: string) => {
      try {
        execFileSync("dpkg", ["--compare-versions", a, op, b]);
        return true;
      } catch {
        return false;
      }
    };
    const version = (deb: string) =>
      execFileSync("dpkg-deb", ["-f", deb, "Version"], { encoding: "utf8" }).trim();
    const good = version(fleet.packages.good);
    expect(cmp(fleet.baseVersion, "lt", good)).toBe(true);
    expect(cmp(good, "lt", version(fleet.packages.badHealth))).toBe(true);
    expect(cmp(good, "lt", version(fleet.packages.badMetrics))).toBe(true);
  });

  it("every host reported its base version and carries its service's ports as labels", async () => {
    for (const host of fleet.hosts) {
      const shown = await runCli(["assets", "show", host.name, "--json"], {
        AUTOPATCH_SERVER: fleet.server,
        AUTOPATCH_TOKEN: fleet.token,
      });
      expect(shown.code).toBe(0);
      const asset = JSON.parse(shown.stdout) as {
        group: string;
        region: string;
        labels: Record<string, string>;
        packages: Array<{ name: string; version: string }>;
      };
      expect(asset.packages.find((p) => p.name === "fleet-service")?.version).toBe(fleet.baseVersion);
      expect([asset.group, asset.region]).toEqual([host.group, host.region]);
      expect(asset.labels["health-port"]).toBe(new URL(host.healthUrl).port);
      expect(asset.labels["metrics-port"]).toBe(new URL(host.metricsUrl).port);
    }
  });

  it("a host's health and metrics follow the version installed in its root", async () => {
    const [healthy, sick, slow] = fleet.hosts;
    if (!healthy || !sick || !slow) throw new Error("fleet too small");
    expect((await fetch(healthy.healthUrl)).status).toBe(200);

    const install = async (root: string, deb: string) => (await createDpkgRoot(root)).install([deb]);
    await install(sick.dpkgRoot, fleet.packages.badHealth);
    expect((await fetch(sick.healthUrl)).status).toBe(503);

    await install(slow.dpkgRoot, fleet.packages.badMetrics);
    expect((await fetch(slow.healthUrl)).status).toBe(200);
    const before = await metrics(slow.metricsUrl);
    const healthyBefore = await metrics(healthy.metricsUrl);
    await sleep(2000);
    const after = await metrics(slow.metricsUrl);
    const healthyAfter = await metrics(healthy.metricsUrl);
    const ratio = (a: typeof before, b: typeof before) => (b.errors - a.errors) / (b.requests - a.requests);
    expect(after.requests).toBeGreaterThan(before.requests);
    expect(ratio(before, after)).toBeGreaterThan(0.1);
    expect(ratio(healthyBefore, healthyAfter)).toBeLessThan(0.02);

    // Maintainer scripts log every real install into the host's own root.
    const lines = readFileSync(installLogPath(sick.dpkgRoot), "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("configure 1.3.0-1 from=1.0.0-1");
  });

  it("refuses a second fleet in the same folder and a folder it did not make", async () => {
    const again = await runCli(["test-fleet", "up", "--hosts", "1", "--dir", dir]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain("already runs");

    const foreign = join(base, "foreign");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "keep.txt"), "mine");
    const up = await runCli(["test-fleet", "up", "--hosts", "1", "--dir", foreign]);
    expect(up.code).toBe(2);
    const down = await runCli(["test-fleet", "down", "--dir", foreign]);
    expect(down.code).toBe(2);
    expect(readFileSync(join(foreign, "keep.txt"), "utf8")).toBe("mine");
  });

  it("down stops every agent and service and removes the folder", async () => {
    const host = fleet.hosts[0];
    if (!host) throw new Error("no host");
    const down = await runCli(["test-fleet", "down", "--dir", dir]);
    expect(down.code).toBe(0);
    expect(existsSync(dir)).toBe(false);
    await expect(fetch(host.healthUrl)).rejects.toThrow();
    await expect(fetch(`${fleet.server}/healthz`)).rejects.toThrow();
  });
});
