import { z } from "zod";
import { canonicalJson, sha256Hex } from "./canonical-json.js";

/** What a service says about a state change; the log adds position, time and hashes. */
export interface AuditInput {
  /** `user:<token name>`, `agent:<asset name>` or `system`. */
  actor: string;
  /** Dotted verb: `asset.created`, `inventory.reported`, `token.revoked`, … */
  action: string;
  targetType: string;
  targetId: string;
  reason?: string | null;
  data?: Record<string, unknown>;
}

/** One stored event, as the log keeps it and the API returns it: the one schema of its shape. */
export const auditEventSchema = z
  .object({
    seq: z.number().int(),
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    reason: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: "AuditEvent" });

export type AuditEvent = z.infer<typeof auditEventSchema>;

/** The hash covers every field but itself, including the previous event's hash: editing, deleting or
 * reordering any stored event breaks the chain from there on. */
export function hashEvent(event: Omit<AuditEvent, "hash">): string {
  return sha256Hex(hashedText(event));
}

/**
 * The text hashEvent hashes: the canonical JSON of every field but the hash. `dataText` is the
 * canonical JSON of `event.data` where the caller has it already (the log stores that same text), so
 * the payload is written once per event. The fields are written in their canonical (sorted) order,
 * which is the text canonicalJson gives for the whole object.
 */
export function hashedText(event: Omit<AuditEvent, "hash">, dataText?: string): string {
  const { seq, id, at, actor, action, targetType, targetId, reason, data, prevHash } = event;
  const fields: unknown[] = [seq, id, at, actor, action, targetType, targetId, reason, data, prevHash];
  if (fields.includes(undefined)) {
    // A field left out is left out of the text too: the object's own canonical JSON.
    return canonicalJson({ seq, id, at, actor, action, targetType, targetId, reason, data, prevHash });
  }
  return (
    `{"action":${canonicalJson(action)},"actor":${canonicalJson(actor)},"at":${canonicalJson(at)}` +
    `,"data":${dataText ?? canonicalJson(data)},"id":${canonicalJson(id)}` +
    `,"prevHash":${canonicalJson(prevHash)},"reason":${canonicalJson(reason)},"seq":${canonicalJson(seq)}` +
    `,"targetId":${canonicalJson(targetId)},"targetType":${canonicalJson(targetType)}}`
  );
}
