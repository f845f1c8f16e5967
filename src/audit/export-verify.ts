import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { GENESIS_HASH } from "../store/migrations/0001-initial.js";
import { checkpointSignatureProblem, type SignedCheckpoint, signedCheckpointSchema } from "./checkpoint.js";
import { auditEventSchema, hashEvent } from "./event.js";

// An exported line is exactly a stored event: no field more, and positions start at 1.
const exportedEventSchema = auditEventSchema.extend({ seq: z.number().int().min(1) }).strict();

export interface ExportVerifyResult {
  ok: boolean;
  /** Events that checked out. */
  checked: number;
  checkpoint: SignedCheckpoint["checkpoint"] | null;
  /** The first bad line (1-based) and why. */
  broken?: { line: number; seq: number | null; reason: string };
}

/**
 * Checks an export with the public key alone: the last line is a checkpoint signed by that key, the
 * events before it are numbers `first` to the checkpoint's `seq` with nothing left out, each hash is
 * right, each links to the one before, and the last one is the event the checkpoint names.
 */
export function verifyExport(text: string, publicKey: KeyObject): ExportVerifyResult {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const fail = (line: number, seq: number | null, reason: string, checked = 0): ExportVerifyResult => ({
    ok: false,
    checked,
    checkpoint: null,
    broken: { line, seq, reason },
  });
  const lastLine = lines.length;
  if (lastLine === 0) return fail(1, null, "the export is empty: it has no checkpoint");
  const signed = signedCheckpointSchema.safeParse(safeJson(lines[lastLine - 1] ?? ""));
  if (!signed.success)
    return fail(lastLine, null, "the last line is not a signed checkpoint (the export was cut short?)");
  const problem = checkpointSignatureProblem(signed.data, publicKey);
  if (problem) return fail(lastLine, null, `the checkpoint does not verify: ${problem}`);
  const checkpoint = signed.data.checkpoint;
  const first = checkpoint.first ?? 1;
  let prevHash: string | null = first === 1 ? GENESIS_HASH : null;
  let checked = 0;
  for (let index = 0; index < lastLine - 1; index++) {
    const line = index + 1;
    const expectedSeq = first + index;
    const event = exportedEventSchema.safeParse(safeJson(lines[index] ?? ""));
    if (!event.success) return fail(line, expectedSeq, "not an audit event", checked);
    const e = event.data;
    if (e.seq !== expectedSeq) {
      return fail(
        line,
        e.seq,
        `expected event ${expectedSeq} here: events are missing or out of order`,
        checked,
      );
    }
    if (prevHash !== null && e.prevHash !== prevHash) {
      return fail(line, e.seq, "previous-hash does not match the event before it", checked);
    }
    const { hash, ...rest } = e;
    if (hashEvent(rest) !== hash)
      return fail(line, e.seq, "content does not match its hash (the event was edited)", checked);
    prevHash = hash;
    checked += 1;
  }
  const lastSeq = first + checked - 1;
  if (lastSeq !== checkpoint.seq) {
    return fail(
      lastLine,
      null,
      `the export ends at event ${lastSeq} but its checkpoint covers event ${checkpoint.seq}: events were removed`,
      checked,
    );
  }
  if ((prevHash ?? GENESIS_HASH) !== checkpoint.hash && !(checked === 0 && first > 1)) {
    return fail(
      lastLine,
      checkpoint.seq,
      "the last event's hash is not the one the checkpoint signed",
      checked,
    );
  }
  return { ok: true, checked, checkpoint };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
