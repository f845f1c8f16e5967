/** A package as an asset reports it, an importer reads it, or an SBOM lists it. */
export interface PackageRecord {
  /** OSV ecosystem name: "Debian:12", "Ubuntu:22.04", "npm", "PyPI", "Maven", "Go", "crates.io", … */
  ecosystem: string;
  /** Name as the ecosystem spells it (Maven: "group:artifact"; npm scoped: "@scope/name"). */
  name: string;
  version: string;
  /** Debian source package and its version, when they differ from the binary package's. */
  sourceName?: string | null;
  sourceVersion?: string | null;
  arch?: string | null;
  purl?: string | null;
}

export const ASSET_KINDS = ["host", "vm", "image", "node-pool"] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export interface Asset {
  id: string;
  name: string;
  kind: AssetKind;
  environment: string;
  group: string;
  region: string;
  owner: string;
  /** 1 (lowest) to 5 (most critical). */
  criticality: number;
  labels: Record<string, string>;
  /** "none" (no agent), "active", "stale". */
  agentStatus: "none" | "active" | "stale";
  createdAt: string;
  lastSeen: string | null;
}
