import { type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import { reasonError } from "../domain/errors.js";
import { canonicalJson } from "./canonical-json.js";
import { type AuditSigningKey, keyIdOf } from "./signing-key.js";

const CHECKPOINT_FORMAT = "autopatch-audit-checkpoint/1";

const HEX64 = /^[0-9a-f]{64}$/;

/** What a checkpoint states: event `seq` of the chain has hash `hash`, seen at `at` by key `keyId`. */
const checkpointBodySchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    seq: z.number().int().min(0),
    hash: z.string().regex(HEX64),
    at: z.iso.datetime(),
    keyId: z.string().regex(HEX64),
    /** Exports only: the first event the export holds (so dropping its first lines is detected). */
    first: z.number().int().min(1).optional(),
  })
  .strict();

export const signedCheckpointSchema = z
  .object({
    checkpoint: checkpointBodySchema,
    /** ed25519 over the UTF-8 bytes of the RFC 8785 canonical JSON of `checkpoint`, base64. */
    signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
  })
  .strict();

export type CheckpointBody = z.infer<typeof checkpointBodySchema>;
export type SignedCheckpoint = z.infer<typeof signedCheckpointSchema>;

/** The exact bytes a checkpoint's signature covers. */
export function signedBytes(body: CheckpointBody): Buffer {
  return Buffer.from(canonicalJson(body), "utf8");
}

export function signCheckpoint(
  key: AuditSigningKey,
  fields: { seq: number; hash: string; at: Date; first?: number },
): SignedCheckpoint {
  const checkpoint: CheckpointBody = {
    format: CHECKPOINT_FORMAT,
    seq: fields.seq,
    hash: fields.hash,
    at: fields.at.toISOString(),
    keyId: key.keyId,
    ...(fields.first === undefined ? {} : { first: fields.first }),
  };
  return { checkpoint, signature: sign(null, signedBytes(checkpoint), key.privateKey).toString("base64") };
}

/** Why a checkpoint does not verify with the key, or null when it does. */
export function checkpointSignatureProblem(signed: SignedCheckpoint, publicKey: KeyObject): string | null {
  const keyId = keyIdOf(publicKey);
  if (signed.checkpoint.keyId !== keyId) {
    return `it names key ${signed.checkpoint.keyId}, not the given key ${keyId}`;
  }
  const ok = verify(null, signedBytes(signed.checkpoint), publicKey, Buffer.from(signed.signature, "base64"));
  return ok ? null : "its signature does not verify with the key (the checkpoint was altered or forged)";
}

/** Parses one checkpoint line; `where` names the line for the error. */
export function parseCheckpointLine(line: string, where: string): SignedCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw reasonError("audit.checkpoint-invalid", "not JSON", { where, cause: err });
  }
  const parsed = signedCheckpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw reasonError(
      "audit.checkpoint-invalid",
      `not a signed checkpoint: ${issue?.path.join(".") || "value"}: ${issue?.message ?? "invalid"}`,
      { where },
    );
  }
  return parsed.data;
}

/** A checkpoint file: one checkpoint, or a log of them, one per line. */
export function parseCheckpointFile(text: string, file: string): SignedCheckpoint[] {
  const checkpoints: SignedCheckpoint[] = [];
  const lines = text.split("\n");
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    checkpoints.push(parseCheckpointLine(line, `${file}:${index + 1}`));
  }
  if (checkpoints.length === 0)
    throw reasonError("audit.checkpoint-invalid", "no checkpoint in the file", { where: file });
  return checkpoints;
}
