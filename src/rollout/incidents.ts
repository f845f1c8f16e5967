/**
 * Incidents: opened in the same write that makes a rollout rolled-back or failed, with what failed,
 * the assets it affected (their states and versions) and the rollout's timeline from its audit events.
 * The post-mortem stays pending until someone closes the incident with a summary.
 */
import type { Kysely } from "kysely";
import { appendAudit } from "../audit/log.js";
import { actorLabel, SYSTEM_ACTOR } from "../domain/roles.js";
import type { Database } from "../store/schema.js";

export function incidentIdFor(rolloutId: string): string {
  return `inc-${rolloutId.replace(/^ro-/, "")}`;
}

export interface IncidentTimelineEntry {
  at: string;
  event: string;
  actor: string;
  detail: string;
}

export interface OpenIncidentInput {
  rolloutId: string;
  changeId: string;
  title: string;
  outcome: "rolled-back" | "failed";
  whatFailed: Record<string, unknown>;
  now: Date;
}

function detailOf(reason: string | null, data: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof data.asset === "string") parts.push(data.asset);
  if (typeof data.phase === "string") parts.push(data.phase);
  if (typeof data.from === "string" && typeof data.to === "string") parts.push(`${data.from} → ${data.to}`);
  if (reason) parts.push(reason);
  return parts.join(": ");
}

/** Opens the rollout's incident inside the caller's transaction; a second call opens nothing. */
export async function openIncident(trx: Kysely<Database>, input: OpenIncidentInput): Promise<string | null> {
  const id = incidentIdFor(input.rolloutId);
  const exists = await trx
    .selectFrom("incidents")
    .select("id")
    .where("rollout_id", "=", input.rolloutId)
    .executeTakeFirst();
  if (exists) return null;
  const [events, assets] = await Promise.all([
    trx
      .selectFrom("audit_events")
      .select(["at", "action", "actor", "reason", "data"])
      .where("target_type", "=", "rollout")
      .where("target_id", "=", input.rolloutId)
      .orderBy("seq")
      .execute(),
    trx
      .selectFrom("rollout_assets")
      .select([
        "asset_name",
        "state",
        "state_reason",
        "from_version",
        "to_version",
        "phase_idx",
        "finished_at",
      ])
      .where("rollout_id", "=", input.rolloutId)
      .orderBy("seq")
      .execute(),
  ]);
  const timeline: IncidentTimelineEntry[] = events.map((e) => ({
    at: e.at,
    event: e.action,
    actor: e.actor,
    detail: detailOf(e.reason, JSON.parse(e.data) as Record<string, unknown>),
  }));
  const affected = assets
    .filter((a) => a.state !== "pending" && a.state !== "skipped")
    .map((a) => ({
      name: a.asset_name,
      state: a.state,
      reason: a.state_reason,
      fromVersion: a.from_version,
      toVersion: a.to_version,
      phase: Number(a.phase_idx),
      finishedAt: a.finished_at,
    }));
  const at = input.now.toISOString();
  await trx
    .insertInto("incidents")
    .values({
      id,
      change_id: input.changeId,
      rollout_id: input.rolloutId,
      title: input.title,
      what_failed: JSON.stringify({ outcome: input.outcome, ...input.whatFailed }),
      assets: JSON.stringify(affected),
      timeline: JSON.stringify(timeline),
      postmortem_state: "pending",
      summary: null,
      closed_by: null,
      closed_at: null,
      opened_at: at,
    })
    .execute();
  await appendAudit(
    trx,
    {
      actor: actorLabel(SYSTEM_ACTOR),
      action: "incident.opened",
      targetType: "incident",
      targetId: id,
      reason: input.title,
      data: {
        rollout: input.rolloutId,
        change: input.changeId,
        outcome: input.outcome,
        assets: affected.length,
      },
    },
    input.now,
  );
  return id;
}
