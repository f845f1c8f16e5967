import { createHash } from "node:crypto";

/**
 * The key a receiver de-duplicates by: sha256 over (event, subject id, webhook name, occurrence). The
 * parts are JSON-encoded as an array so no choice of names can make two different tuples collide.
 * `occurrence` tells apart repeats of one event on one subject (a change paused twice); it defaults to
 * the event name, so a plain event is sent once per subject and webhook.
 */
export function notificationKey(
  event: string,
  subjectId: string,
  webhook: string,
  occurrence?: string,
): string {
  const parts = [event, subjectId, webhook, occurrence ?? event];
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}
