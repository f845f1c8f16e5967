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

/** The text hashEvent hashes: the canonical JSON of every field but the hash. */
export function hashedText(event: Omit<AuditEvent, "hash">): string {
  return canonicalJson({
    seq: event.seq,
    id: event.id,
    at: event.at,
    actor: event.actor,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    reason: event.reason,
    data: event.data,
    prevHash: event.prevHash,
  });
}
