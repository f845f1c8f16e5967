/**
 * `rollout watch`: follows a rollout until it ends, as `kubectl rollout status` does. On a terminal it
 * redraws the progress in place (phase, assets by state, gate results, elapsed time); with `--json` it
 * prints one JSON line per change of state; otherwise one line per change. Exit 0 when the rollout
 * completes, 1 when it ends otherwise (rolled back, failed, aborted) or the timeout passes.
 */
import type { ApiClient } from "../../client/api-client.js";
import { isAppError } from "../../domain/errors.js";
import { ASSET_STATES, TERMINAL_ROLLOUT_STATES } from "../../rollout/model.js";
import type { RolloutView } from "../../rollout/queries.js";

export interface WatchOptions {
  intervalMs: number;
  /** Give up (exit 1) after this long; none when undefined. */
  timeoutMs?: number | undefined;
  json: boolean;
  /** Redraw in place (stdout is a terminal). */
  tty: boolean;
  now?: () => Date;
  write?: (text: string) => void;
  warn?: (text: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** What changes of state are judged on: not the times a gate was last evaluated. */
export function fingerprint(view: RolloutView): string {
  return JSON.stringify([
    view.state,
    view.stateReason,
    view.currentPhase,
    view.phases.map((p) => [p.name, p.state, p.promotedBy, p.gates.map((g) => [g.kind, g.status, g.reason])]),
    view.assets.map((a) => [a.name, a.state, a.attempt]),
    view.stopAll === null,
  ]);
}

function elapsedMs(view: RolloutView, now: Date): number {
  const start = Date.parse(view.startedAt ?? view.createdAt);
  const end = view.finishedAt === null ? now.getTime() : Date.parse(view.finishedAt);
  return Math.max(0, end - start);
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(sec).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** The JSON line for one state of the rollout. */
function watchEvent(view: RolloutView, now: Date): Record<string, unknown> {
  return {
    at: now.toISOString(),
    id: view.id,
    changeId: view.changeId,
    state: view.state,
    stateReason: view.stateReason,
    currentPhase: view.currentPhase,
    elapsedMs: elapsedMs(view, now),
    counts: view.counts,
    phases: view.phases.map((p) => ({
      name: p.name,
      state: p.state,
      gates: p.gates.map((g) => ({ kind: g.kind, status: g.status, reason: g.reason })),
    })),
    assets: view.assets.map((a) => ({ name: a.name, state: a.state, reason: a.reason })),
    stopAll: view.stopAll !== null,
    timeToRollbackMs: view.timeToRollbackMs,
  };
}

function countsText(view: RolloutView): string {
  const parts = ASSET_STATES.filter((s) => view.counts[s] > 0).map((s) => `${s} ${view.counts[s]}`);
  return parts.length > 0 ? parts.join(" · ") : "no assets";
}

/** The lines drawn on a terminal. */
export function renderWatch(view: RolloutView, now: Date): string[] {
  const reason = view.stateReason ? ` (${view.stateReason})` : "";
  const lines = [
    `rollout ${view.id}  change ${view.changeId}  ${view.state}${reason}  elapsed ${formatElapsed(elapsedMs(view, now))}`,
  ];
  if (view.stopAll !== null)
    lines.push(`EMERGENCY STOP set by ${view.stopAll.setBy}: ${view.stopAll.reason ?? ""}`);
  const width = Math.max(5, ...view.phases.map((p) => p.name.length));
  for (const p of view.phases) {
    const mark = p.name === view.currentPhase ? ">" : " ";
    const done = view.assets.filter((a) => p.assets.includes(a.name) && a.state === "done").length;
    const gates = p.gates.map((g) => `${g.kind} ${g.status}`).join(", ");
    lines.push(
      `${mark} ${p.name.padEnd(width)}  ${p.state.padEnd(9)}  ${done}/${p.assets.length} done${gates ? `  gates: ${gates}` : ""}`,
    );
  }
  lines.push(`assets: ${countsText(view)}`);
  const current = view.phases.find((p) => p.name === view.currentPhase);
  for (const g of current?.gates ?? []) {
    if (g.status !== "pass") lines.push(`  ${g.kind}: ${g.status}: ${g.reason}`);
  }
  for (const a of view.assets.filter((x) => x.state === "failed")) {
    lines.push(`  failed ${a.name}: ${a.reason ?? ""}`);
  }
  if (view.timeToRollbackMs !== null) lines.push(`time to rollback: ${formatElapsed(view.timeToRollbackMs)}`);
  return lines;
}

/** One line for a log (not a terminal). */
function logLine(view: RolloutView, now: Date): string {
  const phase = view.currentPhase === null ? "" : ` phase ${view.currentPhase}`;
  const reason = view.stateReason ? ` (${view.stateReason})` : "";
  return `${now.toISOString()} ${view.id} ${view.state}${reason}${phase}: ${countsText(view)}`;
}

function exitCodeFor(view: RolloutView): number {
  return view.state === "completed" ? 0 : 1;
}

/** Follows the rollout until it ends; returns the exit code. A server that cannot be reached is retried. */
export async function watchRollout(
  client: Pick<ApiClient, "get">,
  id: string,
  options: WatchOptions,
): Promise<number> {
  const now = options.now ?? (() => new Date());
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const warn = options.warn ?? ((text: string) => void process.stderr.write(text));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = options.timeoutMs === undefined ? null : now().getTime() + options.timeoutMs;
  let last = "";
  let drawn = 0;
  let unreachable = false;
  const path = `/api/v1/rollouts/${encodeURIComponent(id)}`;
  for (;;) {
    let view: RolloutView | null = null;
    try {
      view = await client.get<RolloutView>(path);
      unreachable = false;
    } catch (err) {
      // A server restarting (or a replica going away) is waited for; a refusal is not.
      if (!isAppError(err) || err.code !== "internal") throw err;
      if (!unreachable) warn(`${err.message}; retrying\n`);
      unreachable = true;
    }
    const at = now();
    if (view !== null) {
      const print = fingerprint(view);
      if (options.json) {
        if (print !== last) write(`${JSON.stringify(watchEvent(view, at))}\n`);
      } else if (options.tty) {
        const lines = renderWatch(view, at);
        // Back to the first line drawn, clear to the end of the screen, draw again.
        write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ""}${lines.join("\n")}\n`);
        drawn = lines.length;
      } else if (print !== last) {
        write(`${logLine(view, at)}\n`);
      }
      last = print;
      if (TERMINAL_ROLLOUT_STATES.includes(view.state)) return exitCodeFor(view);
    }
    if (deadline !== null && at.getTime() >= deadline) {
      warn(`rollout ${id} did not finish within ${formatElapsed(options.timeoutMs ?? 0)}\n`);
      return 1;
    }
    await sleep(options.intervalMs);
  }
}
