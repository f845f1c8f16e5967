import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { startHostService } from "../src/testfleet/host-service.js";

const dir = mkdtempSync(join(tmpdir(), "autopatch-host-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fleet_http_requests_total samples of a /metrics page, summed over their labels. */
async function requestsServed(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("fleet_http_requests_total{"))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

describe("a test fleet host's service", () => {
  it("simulates traffic for /metrics unless told not to, and answers /health either way", async () => {
    const busy = await startHostService(dir, { seed: 1 });
    const quiet = await startHostService(dir, { seed: 2, traffic: false });
    try {
      await sleep(700);
      expect(await requestsServed(busy.metricsUrl)).toBeGreaterThan(0);
      expect(await requestsServed(quiet.metricsUrl)).toBe(0);
      for (const service of [busy, quiet]) {
        expect((await fetch(service.healthUrl)).status).toBe(busy.behaviour() === "healthy" ? 200 : 503);
      }
    } finally {
      await busy.close();
      await quiet.close();
    }
  });
});
