import type { Kysely } from "kysely";
import { reasonError } from "../domain/errors.js";
import { GENESIS_HASH } from "../store/migrations/0001-initial.js";
import type { Database } from "../store/schema.js";
import { type ChainBreak, walkChain } from "./chain.js";
import type { CheckpointBody } from "./checkpoint.js";

export interface AnchoredWalk {
  /** Events `from` to `to` (or to the head); the chain must also reach and match `anchor`. */
  from: number;
  to: number | "head";
  /** The latest checkpoint the server wrote: nothing is signed over a chain that left it. */
  anchor: CheckpointBody | null;
}

export interface AnchoredWalkResult {
  head: { seq: number; hash: string };
  /** The hash of event `to` (the head's when walking to it); GENESIS_HASH for event 0. */
  hash: string;
}

/**
 * Verifies the part of the chain a new signature would vouch for, and fails with `audit.chain-broken`
 * naming the first bad event instead of signing. Starting from the anchor keeps the periodic
 * checkpoint cheap: the anchor's hash already covers every event before it.
 */
export async function walkAnchored(db: Kysely<Database>, walk: AnchoredWalk): Promise<AnchoredWalkResult> {
  const row = await db
    .selectFrom("audit_head")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .executeTakeFirst();
  if (!row) throw broken({ seq: 0, id: null, reason: "the chain's head row is missing" });
  const head = { seq: Number(row.seq), hash: row.hash };
  const end = walk.to === "head" ? head.seq : walk.to;
  const anchor = walk.anchor;
  if (anchor && anchor.seq > head.seq) {
    throw broken({
      seq: head.seq + 1,
      id: null,
      reason: `the chain ends at event ${head.seq} but the checkpoint of ${anchor.at} covers event ${anchor.seq}: events were cut off the end`,
    });
  }
  const start = Math.max(1, anchor ? Math.min(walk.from, anchor.seq) : walk.from);
  const until = Math.max(end, anchor?.seq ?? 0);
  const hashes = new Map<number, string>([[0, GENESIS_HASH]]);
  const result = await walkChain(db, {
    from: start,
    prevHash: start === 1 ? GENESIS_HASH : null,
    to: until,
    onEvent: (event) => {
      if (event.seq === end || event.seq === anchor?.seq) hashes.set(event.seq, event.hash);
    },
  });
  if (result.broken) throw broken(result.broken);
  if (result.last.seq < until) {
    throw broken({ seq: result.last.seq + 1, id: null, reason: `event ${result.last.seq + 1} is missing` });
  }
  if (anchor && hashes.get(anchor.seq) !== anchor.hash) {
    throw broken({
      seq: anchor.seq,
      id: null,
      reason: `event ${anchor.seq} differs from the checkpoint of ${anchor.at}: the chain up to it was rewritten`,
    });
  }
  const hash = hashes.get(end);
  if (hash === undefined) throw broken({ seq: end, id: null, reason: `event ${end} is missing` });
  if (walk.to === "head" && hash !== head.hash) {
    throw broken({ seq: end, id: null, reason: `the head row does not match event ${end}` });
  }
  return { head, hash };
}

function broken(at: ChainBreak): Error {
  return reasonError(
    "audit.chain-broken",
    `audit chain broken at event ${at.seq}${at.id ? ` (${at.id})` : ""}: ${at.reason}; nothing was signed`,
    { where: `audit_events/seq/${at.seq}`, details: { broken: at } },
  );
}
