/**
 * The fast reader of a full inventory report's body (PUT /api/v1/agent/inventory, see
 * src/server/fast-body.ts): zod's generic object walk with a check per field was about a tenth of a
 * 600-package report's server time. This reader accepts exactly what inventoryReportSchema accepts
 * when every object holds only the schema's keys and every string is well-formed, returns what zod
 * returns (new objects, keys in the schema's order), and answers undefined for anything else, which
 * then takes the guard's walk and zod with their errors.
 */
import type { InventoryReport } from "../agent/protocol.js";
import type { PackageRecord } from "../domain/inventory.js";

/** The schema's limits (src/domain/inventory.ts, src/agent/protocol.ts); the test holds them equal. */
const MAX_PACKAGES = 200_000;
const MAX_FINGERPRINT = 200;

/** A required string of 1 to max UTF-16 units, well-formed. */
export function required(v: unknown, max: number): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= max && v.isWellFormed();
}

/** An optional string field: absent, null, or a well-formed string of at most max units. */
export function nullish(v: unknown, max: number): boolean {
  return v === null || (typeof v === "string" && v.length <= max && v.isWellFormed());
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A package record as packageRecordSchema reads it, or undefined for anything else. */
export function readPackage(v: unknown): PackageRecord | undefined {
  if (!isPlainObject(v)) return undefined;
  const { ecosystem, name, version } = v;
  if (!required(ecosystem, 100) || !required(name, 500) || !required(version, 200)) return undefined;
  const out: PackageRecord = { ecosystem, name, version };
  let keys = 3;
  // In the schema's order, as zod writes its output.
  for (const [key, max] of OPTIONAL) {
    if (!Object.hasOwn(v, key)) continue;
    const value = v[key];
    if (!nullish(value, max)) return undefined;
    out[key] = value as string | null;
    keys += 1;
  }
  // Any other key: zod would drop it, but the guard walks it first; let the usual path decide.
  let own = 0;
  for (const _ in v) own += 1;
  return own === keys ? out : undefined;
}

const OPTIONAL: ReadonlyArray<readonly ["sourceName" | "sourceVersion" | "arch" | "purl", number]> = [
  ["sourceName", 500],
  ["sourceVersion", 200],
  ["arch", 50],
  ["purl", 2000],
];

export function readInventoryReportFast(body: unknown): InventoryReport | undefined {
  if (!isPlainObject(body)) return undefined;
  const list = body.packages;
  if (!Array.isArray(list) || list.length > MAX_PACKAGES) return undefined;
  let keys = 1;
  let fingerprint: string | undefined;
  if (Object.hasOwn(body, "packagesFingerprint")) {
    const f = body.packagesFingerprint;
    if (typeof f !== "string" || f.length > MAX_FINGERPRINT || !f.isWellFormed()) return undefined;
    fingerprint = f;
    keys += 1;
  }
  let own = 0;
  for (const _ in body) own += 1;
  if (own !== keys) return undefined;
  const packages: PackageRecord[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = readPackage(list[i]);
    if (p === undefined) return undefined;
    packages[i] = p;
  }
  return fingerprint === undefined ? { packages } : { packages, packagesFingerprint: fingerprint };
}
