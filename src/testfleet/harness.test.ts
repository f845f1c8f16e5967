import { describe, expect, it } from "vitest";
import { placementOf } from "./harness.js";

describe("placementOf", () => {
  it.each([
    [20, ["web", "db"], ["eu", "us"], ["prod"]],
    [8, ["web"], ["eu"], ["staging", "prod"]],
    [9, ["a", "b", "c"], ["x", "y", "z"], ["prod"]],
  ])("spreads %i hosts evenly", (n, groups, regions, environments) => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const p = placementOf(i, groups, regions, environments);
      const key = `${p.environment}/${p.group}/${p.region}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const values = [...counts.values()];
    expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
    expect(counts.size).toBe(Math.min(n, groups.length * regions.length * environments.length));
  });
});
