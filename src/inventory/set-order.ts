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
  return editOrderLines(session, order, undefined, removed, added).ids;
}

/**
 * editOrder, and the same edit of the order's lines (orderLines) when given: a delta's digest then
 * reads no package's line but the added ones'.
 */
export function editOrderLines(
  session: DictionarySession,
  order: readonly number[],
  lines: readonly Buffer[] | undefined,
  removed: ReadonlySet<number>,
  added: readonly number[],
): { ids: number[]; lines: Buffer[] | undefined } {
  let ids: number[];
  let out: Buffer[] | undefined;
  if (removed.size === 0) {
    ids = [...order];
    out = lines === undefined ? undefined : [...lines];
  } else {
    ids = [];
    out = lines === undefined ? undefined : [];
    for (let i = 0; i < order.length; i++) {
      const id = order[i] as number;
      if (removed.has(id)) continue;
      ids.push(id);
      out?.push(lines?.[i] as Buffer);
    }
  }
  for (const id of added) {
    const key = session.keyOf(id);
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (session.keyOf(ids[mid] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    ids.splice(lo, 0, id);
    out?.splice(lo, 0, session.lineOf(id));
  }
  return { ids, lines: out };
}

/** The digest's bytes of each package of an order (see lineOf), in that order. */
export function orderLines(session: DictionarySession, order: readonly number[]): Buffer[] {
  const lines = new Array<Buffer>(order.length);
  for (let i = 0; i < order.length; i++) lines[i] = session.lineOf(order[i] as number);
  return lines;
}

/** contentKeysDigest of the set whose lines (orderLines) these are, in key order. */
export function linesDigest(lines: readonly Buffer[]): string {
  return createHash("sha256").update(Buffer.concat(lines)).digest("hex");
}

/** contentKeysDigest of the set whose ids these are, in key order. */
export function orderDigest(session: DictionarySession, order: readonly number[]): string {
  return linesDigest(orderLines(session, order));
}
