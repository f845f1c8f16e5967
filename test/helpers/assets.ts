import type { Asset } from "../../src/domain/inventory.js";

/** An asset as the planner and selectors see it, with sane defaults for what a test leaves out. */
export function testAsset(
  name: string,
  group: string,
  region = "eu-west",
  extra: Partial<Asset> = {},
): Asset {
  return {
    id: `id-${name}`,
    name,
    kind: "host",
    environment: "prod",
    group,
    region,
    owner: "ops",
    criticality: 3,
    labels: {},
    agentStatus: "active",
    createdAt: "2026-01-01T00:00:00.000Z",
    lastSeen: null,
    ...extra,
  };
}
