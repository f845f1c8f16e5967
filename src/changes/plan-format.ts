/**
 * A plan as a readable timeline, the way `change plan` prints it: one line per phase with its size, its
 * start in the policy's time zone, its assets and what follows it, then the budgets and any warnings.
 */
import { DateTime } from "luxon";
import type { Plan, PlanPhase } from "./plan.js";

/** Asset names shown per phase before the rest are counted. */
const SHOWN_ASSETS = 6;

// The gates every phase has are summed up in the budget line; the others follow the phase as "then …".
const ROUTINE_GATE = /^(health checks pass|failures ≤)/;

function localTime(iso: string, zone: string): string {
  const t = DateTime.fromISO(iso, { zone });
  return t.isValid ? t.toFormat("yyyy-MM-dd HH:mm") : iso;
}

function assetList(phase: PlanPhase): string {
  const shown = phase.assets.slice(0, SHOWN_ASSETS).join(", ");
  const more = phase.assets.length - SHOWN_ASSETS;
  const batches = phase.batches.length > 1 ? ` (${phase.batches.length} batches)` : "";
  return `${shown}${more > 0 ? `, … ${more} more` : ""}${batches}`;
}

function thenText(phase: PlanPhase): string {
  const gates = phase.gates.filter((g) => !ROUTINE_GATE.test(g));
  return gates.length > 0 ? `then ${gates.join(", ")}` : "";
}

function budgetText(plan: Plan): string {
  const waves = plan.phases.filter((p) => p.kind === "wave").map((p) => p.failureBudget);
  const low = Math.min(...waves);
  const high = Math.max(...waves);
  const perWave = waves.length === 0 ? "none" : low === high ? `${low}` : `${low}–${high}`;
  return `Failure budget: ${perWave} per wave, ${plan.totalFailureBudget} in total.`;
}

/** Left-aligned columns; the last column is not padded. */
function columns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/**
 * The plan as a timeline for people, one line per row and a final newline; `title` names what is rolled
 * out (e.g. "openssl 3.0.15-1~deb12u1").
 */
export function formatPlanTimeline(plan: Plan, title?: string): string {
  const what = title === undefined || title.trim() === "" ? "" : `${title} → `;
  const emergency = plan.emergency ? ", emergency" : "";
  const lines = [
    `Plan for ${what}selector "${plan.selector}" (policy ${plan.policy.name} v${plan.policy.version}, ${plan.timezone}${emergency})`,
    plan.schedule.start === null
      ? `Cannot be scheduled — ${plan.schedule.reason}`
      : `Starts ${plan.schedule.start} — ${plan.schedule.reason}`,
  ];
  const indexWidth = `${plan.phases.length}.`.length;
  const rows = plan.phases.map((p, i) => [
    `${`${i + 1}.`.padEnd(indexWidth)} ${p.name}`,
    `${p.assets.length} asset${p.assets.length === 1 ? "" : "s"}`,
    localTime(p.start, plan.timezone),
    assetList(p),
    thenText(p),
  ]);
  lines.push(...columns(rows).map((row) => `  ${row}`));
  const rollback = plan.rollback === undefined ? "" : ` Rollback: ${plan.rollback}.`;
  lines.push(`${budgetText(plan)}${rollback}`);
  for (const w of plan.warnings) lines.push(`Warning: ${w}`);
  // Ends with a newline, ready for stdout.
  return `${lines.join("\n")}\n`;
}
