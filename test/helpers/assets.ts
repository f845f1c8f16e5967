import type { Asset, PackageRecord } from "../../src/domain/inventory.js";
import { SYSTEM_ACTOR } from "../../src/domain/roles.js";
import { importInventory } from "../../src/inventory/import.js";
import type { ServiceContext } from "../../src/service/context.js";

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

/** A Debian 12 amd64 package record, as an agent reports it at its least. */
export function debPackage(name: string, version: string): PackageRecord {
  return { ecosystem: "Debian:12", name, version, arch: "amd64" };
}

/** A dpkg status file with these packages installed. */
export function dpkgStatus(packages: ReadonlyArray<readonly [string, string]>): string {
  return packages
    .map(
      ([name, version]) =>
        `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`,
    )
    .join("\n");
}

/** Reports an asset's packages as an import does, creating the asset when needed. */
export async function installed(
  ctx: ServiceContext,
  asset: string,
  packages: ReadonlyArray<readonly [string, string]>,
  placement: { environment?: string; group?: string; region?: string } = {},
): Promise<void> {
  await importInventory(ctx, SYSTEM_ACTOR, {
    asset,
    content: dpkgStatus(packages),
    format: "dpkg",
    ecosystem: "Debian:12",
    placement,
  });
}
