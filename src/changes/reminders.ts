/**
 * The `starting-soon` notification: once a scheduled change's start minus its policy's lead time has
 * passed, enqueued once per scheduled start (a rescheduled change is announced again). Every replica
 * may run this: the row lock and the marker make a second run a no-op, and the outbox is idempotent
 * per occurrence (the scheduled start) besides.
 */
import { SYSTEM_ACTOR } from "../domain/roles.js";
import { enqueueNotifications } from "../notify/outbox.js";
import { parseDuration } from "../policy/duration.js";
import type { Policy } from "../policy/schema.js";
import { loadPinnedPolicy } from "../policy/store.js";
import type { ServiceContext } from "../service/context.js";
import { type ChangeRow, lockChange, pinOf, writeEvent } from "./records.js";

const due = (row: ChangeRow, policy: Policy, now: Date): boolean =>
  row.state === "scheduled" &&
  row.scheduled_start !== null &&
  row.starting_soon_for !== row.scheduled_start &&
  new Date(row.scheduled_start).getTime() - parseDuration(policy.notifications.leadTime) <= now.getTime();

async function remind(
  ctx: ServiceContext,
  candidate: ChangeRow,
  policies: Map<string, Policy>,
): Promise<number> {
  const key = `${candidate.policy_name}@${candidate.policy_version}`;
  const policy = policies.get(key) ?? (await loadPinnedPolicy(ctx.store.db, pinOf(candidate)));
  policies.set(key, policy);
  const now = ctx.now();
  if (!due(candidate, policy, now)) return 0;
  return ctx.store.write(async (trx) => {
    const row = await lockChange(trx, candidate.id);
    if (!due(row, policy, now) || row.scheduled_start === null) return 0;
    const messages = await enqueueNotifications(
      trx,
      policy,
      "starting-soon",
      {
        type: "change",
        id: row.id,
        title: row.title,
        data: {
          package: row.package_name,
          version: row.package_version,
          selector: row.selector,
          emergency: Number(row.emergency) === 1,
          start: row.scheduled_start,
        },
      },
      now,
      row.scheduled_start,
    );
    await writeEvent(trx, row, {
      actor: SYSTEM_ACTOR,
      action: "starting-soon",
      now,
      set: { starting_soon_for: row.scheduled_start },
      data: { start: row.scheduled_start, messages },
    });
    return messages;
  });
}

/** Enqueues what is due; returns how many messages were added to the outbox. */
export async function enqueueStartingSoon(ctx: ServiceContext): Promise<number> {
  const candidates = await ctx.store.db
    .selectFrom("change_requests")
    .selectAll()
    .where("state", "=", "scheduled")
    .where("scheduled_start", "is not", null)
    .execute();
  const policies = new Map<string, Policy>();
  let added = 0;
  for (const candidate of candidates) {
    if (candidate.starting_soon_for === candidate.scheduled_start) continue;
    try {
      added += await remind(ctx, candidate, policies);
    } catch (err) {
      // One change whose policy cannot be read must not hold up the others' reminders.
      ctx.logger.error({ err, change: candidate.id }, "starting-soon reminder failed");
    }
  }
  return added;
}
