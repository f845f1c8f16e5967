/**
 * Incidents as people see and close them: the list, one incident with what failed, the assets it
 * affected and the rollout's timeline, and closing its post-mortem with a summary (audited). The
 * engine opens them (in the write that ends the rollout); nothing here opens one.
 */
import type { Selectable } from "kysely";
import { z } from "zod";
import { appendAudit } from "../audit/log.js";
import { reasonError } from "../domain/errors.js";
import { type Actor, actorLabel, roleAllows } from "../domain/roles.js";
import type { ServiceContext } from "../service/context.js";
import { forUpdate } from "../store/locks.js";
import type { IncidentsTable } from "../store/schema.js";

export const POSTMORTEM_STATES = ["pending", "closed"] as const;
export type PostmortemState = (typeof POSTMORTEM_STATES)[number];

/** An incident as the API returns it: the one schema of its shape. */
export const incidentViewSchema = z
  .object({
    id: z.string(),
    changeId: z.string(),
    rolloutId: z.string(),
    title: z.string(),
    /** The failed gate and its reason, as the engine recorded it. */
    whatFailed: z.record(z.string(), z.unknown()),
    assets: z.array(z.record(z.string(), z.unknown())),
    timeline: z.array(z.record(z.string(), z.unknown())),
    postmortem: z.object({
      state: z.enum(POSTMORTEM_STATES),
      summary: z.string().nullable(),
      closedBy: z.string().nullable(),
      closedAt: z.string().nullable(),
    }),
    openedAt: z.string(),
  })
  .meta({ id: "Incident" });

export type IncidentView = z.infer<typeof incidentViewSchema>;

export interface IncidentFilter {
  /** The post-mortem's state: pending (open) or closed. */
  state?: string | undefined;
  change?: string | undefined;
}

const MAX_SUMMARY = 20_000;

function parsed<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function viewOf(row: Selectable<IncidentsTable>): IncidentView {
  return {
    id: row.id,
    changeId: row.change_id,
    rolloutId: row.rollout_id,
    title: row.title,
    whatFailed: parsed<Record<string, unknown>>(row.what_failed, {}),
    assets: parsed<Array<Record<string, unknown>>>(row.assets, []),
    timeline: parsed<Array<Record<string, unknown>>>(row.timeline, []),
    postmortem: {
      state: row.postmortem_state === "closed" ? "closed" : "pending",
      summary: row.summary,
      closedBy: row.closed_by,
      closedAt: row.closed_at,
    },
    openedAt: row.opened_at,
  };
}

/** Incidents, newest first. */
export async function listIncidents(
  ctx: ServiceContext,
  filter: IncidentFilter = {},
): Promise<IncidentView[]> {
  if (filter.state !== undefined && !(POSTMORTEM_STATES as readonly string[]).includes(filter.state)) {
    throw reasonError("validation", `"${filter.state}" is not a post-mortem state (pending or closed)`, {
      where: "/state",
    });
  }
  let query = ctx.store.db.selectFrom("incidents").selectAll().orderBy("opened_at", "desc").orderBy("id");
  if (filter.state !== undefined) query = query.where("postmortem_state", "=", filter.state);
  if (filter.change !== undefined) query = query.where("change_id", "=", filter.change);
  return (await query.limit(1000).execute()).map(viewOf);
}

/** One incident, by its id or its rollout's or change's id (NotFoundError reason `incident.not-found`). */
export async function showIncident(ctx: ServiceContext, id: string): Promise<IncidentView> {
  const row = await ctx.store.db
    .selectFrom("incidents")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", id), eb("rollout_id", "=", id), eb("change_id", "=", id)]))
    .orderBy("opened_at", "desc")
    .executeTakeFirst();
  if (!row) throw reasonError("incident.not-found", `no incident ${id}`, { where: "/id" });
  return viewOf(row);
}

/** Closes the post-mortem (pending → closed) with its summary; operator or admin. */
export async function closeIncident(
  ctx: ServiceContext,
  actor: Actor,
  id: string,
  summary: string | undefined,
): Promise<IncidentView> {
  if (actor.kind === "agent" || actor.role === null || !roleAllows(actor.role, "operate")) {
    throw reasonError(
      "rollout.operator-required",
      `closing an incident needs an operator or an admin; ${actorLabel(actor)} is ${actor.role ?? "an agent"}`,
    );
  }
  const text = summary?.trim() ?? "";
  if (text === "") {
    throw reasonError("incident.summary-required", "closing an incident needs a summary (--summary)", {
      where: "/summary",
    });
  }
  if (text.length > MAX_SUMMARY) {
    throw reasonError("incident.summary-required", `the summary is longer than ${MAX_SUMMARY} characters`, {
      where: "/summary",
    });
  }
  await ctx.store.write(async (trx) => {
    const row = await trx
      .selectFrom("incidents")
      .selectAll()
      .where("id", "=", id)
      .$call(forUpdate(trx))
      .executeTakeFirst();
    if (!row) throw reasonError("incident.not-found", `no incident ${id}`, { where: "/id" });
    if (row.postmortem_state === "closed") {
      throw reasonError(
        "incident.already-closed",
        `incident ${id} was closed by ${row.closed_by ?? "?"} at ${row.closed_at ?? "?"}`,
        { where: "/id" },
      );
    }
    const now = ctx.now();
    await trx
      .updateTable("incidents")
      .set({
        postmortem_state: "closed",
        summary: text,
        closed_by: actor.principal,
        closed_at: now.toISOString(),
      })
      .where("id", "=", id)
      .where("postmortem_state", "=", "pending")
      .execute();
    await appendAudit(
      trx,
      {
        actor: actorLabel(actor),
        action: "incident.closed",
        targetType: "incident",
        targetId: id,
        reason: text,
        data: { principal: actor.principal, rollout: row.rollout_id, change: row.change_id },
      },
      now,
    );
  });
  return showIncident(ctx, id);
}
