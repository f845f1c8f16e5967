/**
 * The fast reader of a delta report's body (PATCH /api/v1/agent/inventory, see src/server/fast-body.ts):
 * what inventoryDeltaSchema accepts when every object holds only the schema's keys and every string is
 * well-formed, as zod returns it (new objects, keys in the schema's order); undefined for anything
 * else, which then takes the guard's walk and zod with their errors.
 */
import type { InventoryDeltaReport } from "../agent/protocol.js";
import type { PackageRecord } from "../domain/inventory.js";
import { isPlainObject, nullish, readPackage, required } from "./report-body.js";

/** The schema's limits (src/agent/protocol.ts); the test holds them equal. */
const MAX_RECORDS = 200_000;
const MAX_DIGEST = 200;

type Removed = InventoryDeltaReport["removed"][number];

function ownKeys(v: object): number {
  let own = 0;
  for (const _ in v) own += 1;
  return own;
}

function readRemoved(v: unknown): Removed | undefined {
  if (!isPlainObject(v)) return undefined;
  const { ecosystem, name, version } = v;
  if (!required(ecosystem, 100) || !required(name, 500) || !required(version, 200)) return undefined;
  const out: Removed = { ecosystem, name, version };
  let keys = 3;
  if (Object.hasOwn(v, "arch")) {
    if (!nullish(v.arch, 50)) return undefined;
    out.arch = v.arch as string | null;
    keys += 1;
  }
  return ownKeys(v) === keys ? out : undefined;
}

function readList<T>(v: unknown, read: (item: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_RECORDS) return undefined;
  const out: T[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const item = read(v[i]);
    if (item === undefined) return undefined;
    out[i] = item;
  }
  return out;
}

export function readInventoryDeltaFast(body: unknown): InventoryDeltaReport | undefined {
  if (!isPlainObject(body) || ownKeys(body) !== 4) return undefined;
  const { base, digest } = body;
  if (!required(base, MAX_DIGEST) || !required(digest, MAX_DIGEST)) return undefined;
  const added = readList<PackageRecord>(body.added, readPackage);
  if (added === undefined) return undefined;
  const removed = readList(body.removed, readRemoved);
  if (removed === undefined) return undefined;
  return { base, digest, added, removed };
}
