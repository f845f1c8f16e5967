import { z } from "zod";

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

/** An asset as the store keeps it and the API returns it: the one schema of its shape. */
export const assetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(ASSET_KINDS),
    environment: z.string(),
    group: z.string(),
    region: z.string(),
    owner: z.string(),
    /** 1 (lowest) to 5 (most critical). */
    criticality: z.number().int(),
    labels: z.record(z.string(), z.string()),
    /** "none" (no agent), "active", "stale". */
    agentStatus: z.enum(["none", "active", "stale"]),
    createdAt: z.string(),
    lastSeen: z.string().nullable(),
  })
  .meta({ id: "Asset" });

export type Asset = z.infer<typeof assetSchema>;
