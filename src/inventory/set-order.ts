/**
 * A package set's ids in content-key order and the set's digest from them (contentKeysDigest's bytes:
 * the sorted keys, each followed by a newline). Sorting 600 keys of ~130 characters and encoding their
 * joined text were most of a delta report's digest; a delta now edits the stored set's order, and the
 * dictionary keeps each package's encoded line.
 */
import { createHash } from "node:crypto";
import type { DictionarySession } from "./package-dictionary.js";

/** The ids sorted by their packages' content keys, in code-unit order as contentKeysDigest sorts. */
export function orderByKey(session: DictionarySession, ids: readonly number[]): number[] {
  const keyed = ids.map((id) => ({ id, key: session.keyOf(id) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.id);
}

/** A stored order without the removed ids and with the added ones in place. */
export function editOrder(
  session: DictionarySession,
  order: readonly number[],
  removed: ReadonlySet<number>,
  added: readonly number[],
): number[] {
  const out = removed.size === 0 ? [...order] : order.filter((id) => !removed.has(id));
  for (const id of added) {
    const key = session.keyOf(id);
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (session.keyOf(out[mid] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, id);
  }
  return out;
}

/** contentKeysDigest of the set whose ids these are, in key order. */
export function orderDigest(session: DictionarySession, order: readonly number[]): string {
  const lines = new Array<Buffer>(order.length);
  for (let i = 0; i < order.length; i++) lines[i] = session.lineOf(order[i] as number);
  return createHash("sha256").update(Buffer.concat(lines)).digest("hex");
}
