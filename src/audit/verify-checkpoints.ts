import type { KeyObject } from "node:crypto";
import type { Kysely } from "kysely";
import { GENESIS_HASH } from "../store/migrations/0001-initial.js";
import type { Database } from "../store/schema.js";
import { checkpointSignatureProblem, type SignedCheckpoint } from "./checkpoint.js";
import { type VerifyResult, verifyAuditChain } from "./log.js";

export interface CheckpointVerifyResult extends VerifyResult {
  /** Checkpoints the chain still reaches and matches. */
  checkpoints: number;
}

/**
 * Checks the stored chain against checkpoints kept outside the database. The chain's own hashes only
 * show that it is consistent; whoever can write the store can recompute all of them and the head.
 * A signed checkpoint pins event `seq` to `hash`, so the chain must still reach that event and have
 * that hash there: cut-off events, a re-hashed range and a deleted-and-renumbered event all fail.
 */
export async function verifyAgainstCheckpoints(
  db: Kysely<Database>,
  checkpoints: readonly SignedCheckpoint[],
  publicKey: KeyObject,
): Promise<CheckpointVerifyResult> {
  const sorted = [...checkpoints].sort((a, b) => a.checkpoint.seq - b.checkpoint.seq);
  for (const signed of sorted) {
    const problem = checkpointSignatureProblem(signed, publicKey);
    if (problem) {
      return {
        ok: false,
        checked: 0,
        checkpoints: 0,
        head: null,
        broken: {
          seq: signed.checkpoint.seq,
          id: null,
          reason: `the checkpoint of ${signed.checkpoint.at} does not verify: ${problem}`,
        },
      };
    }
  }
  const wanted = new Set(sorted.map((s) => s.checkpoint.seq));
  const hashes = new Map<number, string>();
  const chain = await verifyAuditChain(db, {
    onEvent: (event) => {
      if (wanted.has(event.seq)) hashes.set(event.seq, event.hash);
    },
  });
  if (!chain.ok) return { ...chain, checkpoints: 0 };
  const last = chain.head?.seq ?? 0;
  let matched: SignedCheckpoint["checkpoint"] | null = null;
  let count = 0;
  for (const { checkpoint } of sorted) {
    const fail = (seq: number, reason: string): CheckpointVerifyResult => ({
      ...chain,
      ok: false,
      checkpoints: count,
      broken: { seq, id: null, reason },
    });
    if (checkpoint.seq > last) {
      return fail(
        last + 1,
        `the chain ends at event ${last} but the checkpoint of ${checkpoint.at} covers event ${checkpoint.seq}: events were cut off the end`,
      );
    }
    const hash = checkpoint.seq === 0 ? GENESIS_HASH : hashes.get(checkpoint.seq);
    if (hash !== checkpoint.hash) {
      const after = matched
        ? `after event ${matched.seq} (checkpoint of ${matched.at}, which still matches) `
        : "";
      return fail(
        checkpoint.seq,
        `event ${checkpoint.seq} differs from the checkpoint of ${checkpoint.at}: the chain was rewritten ${after}at or before it`,
      );
    }
    matched = checkpoint;
    count += 1;
  }
  return { ...chain, checkpoints: count };
}
