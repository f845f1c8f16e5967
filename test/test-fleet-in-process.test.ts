import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApiClient } from "../src/client/api-client.js";
import { startTestFleet } from "../src/testfleet/harness.js";

describe("a test fleet with its agents in this process", () => {
  const dir = mkdtempSync(join(tmpdir(), "autopatch-inproc-fleet-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("enrolls one asset per host, each with its own credential, and stops every agent", async () => {
    const fleet = await startTestFleet({ dir, hosts: 3, inProcessAgents: true, groups: ["a", "b"] });
    try {
      const api = new ApiClient(fleet.server, fleet.token);
      const assets = (
        await api.get<{ items: Array<{ name: string; group: string; agentStatus: string }> }>(
          "/api/v1/assets",
        )
      ).items;
      expect(assets.map((a) => a.name).sort()).toEqual(["fleet-1", "fleet-2", "fleet-3"]);
      expect(assets.map((a) => a.group).sort()).toEqual(["a", "a", "b"]);
      const credentials = fleet.hosts.map(
        (h) =>
          (JSON.parse(readFileSync(join(h.stateDir, "agent.json"), "utf8")) as { credential: string })
            .credential,
      );
      expect(new Set(credentials).size).toBe(3);
      expect(new Set(fleet.hosts.map((h) => h.service.port)).size).toBe(3);
    } finally {
      await fleet.stop();
    }
    // Every agent's run has ended.
    await Promise.all(fleet.hosts.map((h) => h.agent.done));
  }, 60_000);
});
