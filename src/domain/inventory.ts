import { z } from "zod";

/**
 * A package as an asset reports it, an importer reads it, or an SBOM lists it; on the wire (agent
 * reports, imports, the API) with the limits every input gets.
 */
export const packageRecordSchema = z.object({
  /** OSV ecosystem name: "Debian:12", "Ubuntu:22.04", "npm", "PyPI", "Maven", "Go", "crates.io", … */
  ecosystem: z.string().min(1).max(100),
  /** Name as the ecosystem spells it (Maven: "group:artifact"; npm scoped: "@scope/name"). */
  name: z.string().min(1).max(500),
  version: z.string().min(1).max(200),
  /** Debian source package and its version, when they differ from the binary package's. */
  sourceName: z.string().max(500).nullish(),
  sourceVersion: z.string().max(200).nullish(),
  arch: z.string().max(50).nullish(),
  purl: z.string().max(2000).nullish(),
});

export type PackageRecord = z.infer<typeof packageRecordSchema>;

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
