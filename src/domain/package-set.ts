/**
 * An asset's package set as the agent and the server both see it: one canonical entry per (ecosystem,
 * name, arch, version), and a digest over the canonical entries. The agent sends the digest with every
 * heartbeat and the server compares it with the digest of the set it stored, so both must build the set
 * with the same rules: these.
 */
import { createHash } from "node:crypto";
import type { PackageRecord } from "./inventory.js";

/** A package with every optional field filled as the server stores it. */
export interface CanonicalPackage {
  ecosystem: string;
  name: string;
  version: string;
  /** "" when the package has no architecture. */
  arch: string;
  /** The name advisories key the package by: its Debian source package, else its own name. */
  sourceName: string;
  sourceVersion: string;
  /** "" when none. */
  purl: string;
}

const SEP = "\u0000";

/** What identifies a package within one asset's set: a second record with the same identity replaces it. */
export function packageIdentity(p: {
  ecosystem: string;
  name: string;
  arch: string;
  version: string;
}): string {
  return `${p.ecosystem}${SEP}${p.name}${SEP}${p.arch}${SEP}${p.version}`;
}

/** Every stored field of a canonical package: the dictionary's unique key. */
export function packageContentKey(p: CanonicalPackage): string {
  return `${packageIdentity(p)}${SEP}${p.sourceName}${SEP}${p.sourceVersion}${SEP}${p.purl}`;
}

export function canonicalPackage(p: PackageRecord): CanonicalPackage {
  return {
    ecosystem: p.ecosystem,
    name: p.name,
    version: p.version,
    arch: p.arch ?? "",
    sourceName: p.sourceName || p.name,
    sourceVersion: p.sourceVersion || p.version,
    purl: p.purl ?? "",
  };
}

/** The canonical set of a report, by identity: the last record of an identity wins. */
export function canonicalPackageSet(packages: readonly PackageRecord[]): Map<string, CanonicalPackage> {
  const out = new Map<string, CanonicalPackage>();
  for (const p of packages) {
    const c = canonicalPackage(p);
    out.set(packageIdentity(c), c);
  }
  return out;
}

/** SHA-256 (hex) of the set's content keys in sorted order: equal sets have equal digests. */
export function packageSetDigest(set: Iterable<CanonicalPackage>): string {
  return contentKeysDigest([...set].map(packageContentKey));
}

/** packageSetDigest of the packages whose content keys these are, in any order: for a caller that has the keys. */
export function contentKeysDigest(keys: readonly string[]): string {
  // Code-unit order, as the default sort; an explicit comparison is about twice as fast in V8.
  const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // One update with the joined text: the same bytes as one per key, without 600 native calls.
  return createHash("sha256")
    .update(sorted.length === 0 ? "" : `${sorted.join("\n")}\n`)
    .digest("hex");
}
