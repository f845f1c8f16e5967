import type { Command } from "commander";
import { listAll } from "../../client/list-all.js";
import type { IncidentView } from "../../rollout/incident-commands.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { paintState } from "../output/color.js";
import { formatAge, formatTime, formatWhen } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

function text(value: unknown): string {
  return typeof value === "string"
    ? value
    : value === null || value === undefined
      ? ""
      : JSON.stringify(value);
}

/** What failed in words: "staging/canary: the failure-budget gate failed (1 failed …)", else as stored. */
function failureText(whatFailed: Record<string, unknown>): string {
  const gate = whatFailed.gate as { kind?: unknown; reason?: unknown } | undefined;
  const where = typeof whatFailed.phase === "string" ? `${whatFailed.phase}: ` : "";
  if (gate && typeof gate.kind === "string") {
    const why = typeof gate.reason === "string" ? ` (${gate.reason})` : "";
    return `${where}the ${gate.kind} gate failed${why}`;
  }
  if (typeof whatFailed.reason === "string") return `${where}${whatFailed.reason}`;
  return text(whatFailed);
}

/** An incident for people, as `incident show` prints it. */
export function printIncident(incident: IncidentView): void {
  const pm = incident.postmortem;
  printFields([
    ["id", incident.id],
    ["title", incident.title],
    ["change", incident.changeId],
    ["rollout", incident.rolloutId],
    ["opened", formatWhen(incident.openedAt)],
    ["outcome", text(incident.whatFailed.outcome)],
    ["what failed", failureText(incident.whatFailed)],
    [
      "post-mortem",
      pm.state === "closed"
        ? `closed by ${pm.closedBy ?? "?"} at ${formatTime(pm.closedAt)}: ${pm.summary ?? ""}`
        : `pending (close it with \`autopatch incident close ${incident.id} --summary …\`)`,
    ],
  ]);
  process.stdout.write("\nassets affected:\n");
  printTable(incident.assets, [
    { header: "ASSET", value: (a) => text(a.name) },
    { header: "STATE", value: (a) => text(a.state), paint: paintState },
    { header: "FROM", value: (a) => text(a.fromVersion) },
    { header: "TO", value: (a) => text(a.toVersion) },
    { header: "REASON", value: (a) => text(a.reason) },
  ]);
  process.stdout.write("timeline:\n");
  printTable(incident.timeline, [
    { header: "AT", value: (e) => (typeof e.at === "string" ? formatTime(e.at) : text(e.at)), keep: true },
    { header: "EVENT", value: (e) => text(e.event), keep: true },
    { header: "ACTOR", value: (e) => text(e.actor) },
    { header: "DETAIL", value: (e) => text(e.detail) },
  ]);
}

export function registerIncidentCommands(program: Command): void {
  const incident = program
    .command("incident")
    .description("Incidents opened by failed or rolled-back rollouts: list, show, close the post-mortem");

  withClientFlags(
    incident
      .command("list")
      .description("List incidents, newest first")
      .option("--state <state>", "pending (post-mortem open) or closed"),
  ).action(async (flags: ClientFlags & { state?: string }) => {
    const list = await listAll(clientFrom(flags), "/api/v1/incidents", { query: { state: flags.state } });
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (i) => i.id },
      { header: "CHANGE", value: (i) => i.changeId },
      { header: "ROLLOUT", value: (i) => i.rolloutId, wide: true },
      { header: "POST-MORTEM", value: (i) => i.postmortem.state },
      { header: "OPENED", value: (i) => formatAge(i.openedAt) },
      { header: "OPENED AT", value: (i) => formatTime(i.openedAt), wide: true },
      { header: "TITLE", value: (i) => i.title },
    ]);
  });

  withClientFlags(
    incident.command("show <id>").description("Show an incident (by its id, its rollout's or its change's)"),
  ).action(async (id: string, flags: ClientFlags) => {
    const shown = await clientFrom(flags).get<IncidentView>(`/api/v1/incidents/${encodeURIComponent(id)}`);
    if (flags.json) return printJson(shown);
    printIncident(shown);
  });

  withClientFlags(
    incident
      .command("close <id>")
      .description("Close the incident's post-mortem (operator)")
      .option("--summary <text>", "what happened and what follows (required)"),
  ).action(async (id: string, flags: ClientFlags & { summary?: string }) => {
    const closed = await clientFrom(flags).post<IncidentView>(
      `/api/v1/incidents/${encodeURIComponent(id)}/close`,
      flags.summary === undefined ? {} : { summary: flags.summary },
    );
    if (flags.json) return printJson(closed);
    process.stdout.write(`${closed.id}: post-mortem ${closed.postmortem.state}\n`);
  });
}
