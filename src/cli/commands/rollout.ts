import type { Command } from "commander";
import { listAll } from "../../client/list-all.js";
import type { StopAllResult } from "../../rollout/controls.js";
import type { RolloutSummary, RolloutView } from "../../rollout/queries.js";
import { type ClientFlags, clientFrom, parseDurationFlag, withClientFlags } from "../common.js";
import { paintState } from "../output/color.js";
import { formatAge, formatTime, formatWhen } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";
import { formatElapsed, watchRollout } from "./rollout-watch.js";

interface ReasonFlags extends ClientFlags {
  reason?: string;
}

function countsText(counts: RolloutSummary["counts"]): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(", ");
}

function printRollout(view: RolloutView): void {
  printFields([
    ["id", view.id],
    ["change", view.changeId],
    ["state", view.stateReason ? `${view.state} (${view.stateReason})` : view.state],
    ["phase", view.currentPhase ?? "(none)"],
    ...(view.pausedBy ? [["paused by", view.pausedBy] as const] : []),
    ["assets", countsText(view.counts)],
    ["started", formatWhen(view.startedAt)],
    ["finished", formatWhen(view.finishedAt)],
    ...(view.failedGate !== null ? [["failed gate", view.failedGate] as const] : []),
    ...(view.timeToRollbackMs !== null
      ? [["time to rollback", formatElapsed(view.timeToRollbackMs)] as const]
      : []),
    ...(view.incidentId ? [["incident", view.incidentId] as const] : []),
    ...(view.stopAll
      ? [
          [
            "emergency stop",
            `set by ${view.stopAll.setBy} at ${view.stopAll.setAt}: ${view.stopAll.reason ?? ""}`,
          ] as const,
        ]
      : []),
  ]);
  process.stdout.write("\n");
  printTable(view.phases, [
    { header: "PHASE", value: (p) => p.name },
    { header: "STATE", value: (p) => p.state, paint: paintState },
    { header: "ASSETS", value: (p) => p.assets.length },
    { header: "GATES", value: (p) => p.gates.map((g) => `${g.kind}: ${g.status}`).join(", ") },
    { header: "OBSERVE UNTIL", value: (p) => formatTime(p.observeUntil) },
  ]);
  printTable(view.assets, [
    { header: "ASSET", value: (a) => a.name },
    { header: "PHASE", value: (a) => a.phase },
    { header: "STATE", value: (a) => a.state, paint: paintState },
    { header: "FROM", value: (a) => a.fromVersion ?? "" },
    { header: "TO", value: (a) => a.toVersion },
    { header: "STARTED", value: (a) => formatTime(a.startedAt), wide: true },
    { header: "FINISHED", value: (a) => formatTime(a.finishedAt), wide: true },
    { header: "REASON", value: (a) => a.reason ?? "" },
  ]);
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program
    .command("rollout")
    .description(
      "Rollouts of changes: list, show, watch; pause, resume, abort, retry, skip, promote; emergency stop",
    );

  withClientFlags(
    rollout
      .command("list")
      .description("List rollouts, newest first")
      .option("--state <state>", "only in this state")
      .option("--change <id>", "only the rollout of this change"),
  ).action(async (flags: ClientFlags & { state?: string; change?: string }) => {
    const list = await listAll(clientFrom(flags), "/api/v1/rollouts", {
      query: { state: flags.state, change: flags.change },
    });
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (r) => r.id, keep: true },
      { header: "CHANGE", value: (r) => r.changeId, wide: true },
      { header: "STATE", value: (r) => r.state, paint: paintState },
      { header: "PHASE", value: (r) => r.currentPhase ?? "" },
      { header: "DONE", value: (r) => `${r.counts.done}/${r.assets}` },
      { header: "ASSETS", value: (r) => countsText(r.counts), wide: true },
      { header: "STARTED", value: (r) => formatAge(r.startedAt) },
      { header: "STARTED AT", value: (r) => formatTime(r.startedAt), wide: true },
    ]);
  });

  withClientFlags(
    rollout
      .command("show <id>")
      .description("Show a rollout (by its id or its change's): phases, gates, assets"),
  ).action(async (id: string, flags: ClientFlags) => {
    const view = await clientFrom(flags).get<RolloutView>(`/api/v1/rollouts/${encodeURIComponent(id)}`);
    if (flags.json) return printJson(view);
    printRollout(view);
  });

  withClientFlags(
    rollout
      .command("watch <id>")
      .description(
        "Follow a rollout until it ends: live progress on a terminal, JSON lines with --json; exits 0 when it completes, 1 otherwise",
      )
      .option("--interval <duration>", "how often to look (default 1s)")
      .option("--timeout <duration>", "give up (exit 1) after this long"),
  ).action(async (id: string, flags: ClientFlags & { interval?: string; timeout?: string }) => {
    const intervalMs = flags.interval === undefined ? 1000 : parseDurationFlag(flags.interval, "--interval");
    const timeoutMs = flags.timeout === undefined ? undefined : parseDurationFlag(flags.timeout, "--timeout");
    process.exitCode = await watchRollout(clientFrom(flags), id, {
      intervalMs: Math.max(50, intervalMs),
      timeoutMs,
      json: flags.json === true,
      tty: process.stdout.isTTY === true,
    });
  });

  const controls = [
    ["pause", "Pause: nothing new is dispatched; operations in flight end"],
    ["resume", "Resume a paused rollout (a halted one is judged again)"],
    ["abort", "Abort: roll back every asset the rollout touched, then end aborted"],
    ["promote", "End the current phase's observation early (its health gate still has to pass)"],
  ] as const;
  for (const [name, description] of controls) {
    withClientFlags(
      rollout
        .command(`${name} <id>`)
        .description(`${description} (operator)`)
        .option("--reason <reason>", "why, for the audit log (recommended; recorded as not given otherwise)"),
    ).action(async (id: string, flags: ReasonFlags) => {
      // `rollout pause ID` without --reason is a promised script interface; the audit log then says
      // plainly that no reason was given. An empty --reason is still refused by the server.
      const view = await clientFrom(flags).post<RolloutView>(
        `/api/v1/rollouts/${encodeURIComponent(id)}/${name}`,
        { reason: flags.reason ?? `${name} from the command line; no reason given` },
      );
      if (flags.json) return printJson(view);
      process.stdout.write(`${view.id}: ${view.state}${view.stateReason ? ` (${view.stateReason})` : ""}\n`);
    });
  }

  const assetControls = [
    ["retry", "Retry a failed or reverted asset (a new attempt)"],
    ["skip", "Skip a pending or failed asset (its queued operation is cancelled)"],
  ] as const;
  for (const [name, description] of assetControls) {
    withClientFlags(
      rollout
        .command(`${name} <id> <asset>`)
        .description(`${description} (operator)`)
        .option("--reason <reason>", "why, for the audit log (required)"),
    ).action(async (id: string, asset: string, flags: ReasonFlags) => {
      const view = await clientFrom(flags).post<RolloutView>(
        `/api/v1/rollouts/${encodeURIComponent(id)}/assets/${encodeURIComponent(asset)}/${name}`,
        flags.reason === undefined ? {} : { reason: flags.reason },
      );
      if (flags.json) return printJson(view);
      const shown = view.assets.find((a) => a.name === asset || a.id === asset);
      process.stdout.write(`${view.id}: ${shown?.name ?? asset} ${shown?.state ?? "?"}\n`);
    });
  }

  const switches = [
    [
      "stop-all",
      "Emergency stop: pause every rollout in progress and start none until resume-all (operator)",
    ],
    ["resume-all", "Lift the emergency stop (operator)"],
  ] as const;
  for (const [name, description] of switches) {
    withClientFlags(
      rollout
        .command(name)
        .description(description)
        .option("--reason <reason>", "why, for the audit log (required)"),
    ).action(async (flags: ReasonFlags) => {
      const result = await clientFrom(flags).post<StopAllResult>(
        `/api/v1/rollouts/${name}`,
        flags.reason === undefined ? {} : { reason: flags.reason },
      );
      if (flags.json) return printJson(result);
      const which = result.rollouts.length > 0 ? result.rollouts.join(", ") : "none";
      process.stdout.write(
        name === "stop-all"
          ? `emergency stop set; rollouts in progress (paused on the engine's next pass): ${which}\n`
          : `emergency stop lifted; the engine resumes what it paused for it; rollouts in progress: ${which}\n`,
      );
    });
  }
}
