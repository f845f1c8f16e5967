import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ValidationError } from "../domain/errors.js";
import { NOTIFICATION_EVENTS, type NotificationEvent, type Policy } from "../policy/schema.js";
import type { Database } from "../store/schema.js";
import { notificationKey } from "./idempotency-key.js";
import { type NotificationSubject, notificationBody } from "./payload.js";

// The events are the policy's: a webhook subscribes to them by name in the policy file.
export type { NotificationEvent };

/**
 * Enqueues one message per webhook of the policy that subscribes to the event, inside the caller's
 * transaction: the state change and its notifications commit or roll back together. Idempotent per
 * (event, subject id, webhook, occurrence): enqueueing the same thing again inserts nothing.
 * Returns how many messages were added.
 */
export async function enqueueNotifications(
  trx: Kysely<Database>,
  policy: Policy,
  event: NotificationEvent,
  subject: NotificationSubject,
  now: Date,
  occurrence?: string,
): Promise<number> {
  if (!trx.isTransaction) {
    throw new Error("enqueueNotifications must run inside the state change's transaction");
  }
  if (!(NOTIFICATION_EVENTS as readonly string[]).includes(event)) {
    const known = NOTIFICATION_EVENTS.join(", ");
    throw new ValidationError(`"${event}" is not a notification event (use ${known})`, { where: "event" });
  }
  if (subject.id.trim() === "") {
    throw new ValidationError("a notification subject needs an id", { where: "/subject/id" });
  }
  if (occurrence !== undefined && occurrence.trim() === "") {
    throw new ValidationError("an occurrence must not be empty", { where: "occurrence" });
  }

  const webhooks = policy.notifications.webhooks.filter((w) => w.events.includes(event));
  let added = 0;
  for (const webhook of webhooks) {
    const key = notificationKey(event, subject.id, webhook.name, occurrence);
    const payload = serialise(notificationBody(webhook.format, event, subject, now, key));
    const result = await trx
      .insertInto("outbox")
      .values({
        id: randomUUID(),
        idempotency_key: key,
        event,
        subject_type: subject.type,
        subject_id: subject.id,
        target_name: webhook.name,
        target_url: webhook.url,
        format: webhook.format,
        payload,
        attempts: 0,
        next_attempt_at: now.toISOString(),
        claimed_until: null,
        delivered_at: null,
        last_error: null,
        created_at: now.toISOString(),
        dead_at: null,
      })
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .executeTakeFirst();
    added += Number(result.numInsertedOrUpdatedRows ?? 0n);
  }
  return added;
}

function serialise(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch (err) {
    throw new ValidationError(
      `notification data cannot be sent as JSON: ${err instanceof Error ? err.message : String(err)}`,
      { where: "/subject/data", cause: err },
    );
  }
}
