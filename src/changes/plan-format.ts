/**
 * A plan as a readable timeline, the way `change plan` prints it: one line per phase with its size, its
 * start in the policy's time zone and what follows it, each asset's from → to version under its phase,
 * the skipped assets with the reason, the budgets and any warnings, and — as `terraform plan` ends — a
 * summary line. Gates are put in words from their structured form, here only.
 */
import { DateTime } from "luxon";
import { formatDuration } from "../policy/duration.js";
import type { PlanGate, PlanSkip, PlanV2, SkipReason } from "./plan.js";

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** An instant as ISO 8601 in the plan's zone with its offset, to the second, however it was stored. */
function isoInZone(iso: string, zone: string): string {
  const t = DateTime.fromISO(iso, { zone });
  return t.isValid ? (t.startOf("second").toISO({ suppressMilliseconds: true }) ?? iso) : iso;
}

function localTime(iso: string, zone: string): string {
  const t = DateTime.fromISO(iso, { zone });
  return t.isValid ? t.toFormat("yyyy-MM-dd HH:mm") : iso;
}

/** A gate in words, as the timeline and the rollout views print it. */
export function gateText(gate: PlanGate, plan: Pick<PlanV2, "summary">): string {
  switch (gate.kind) {
    case "health":
      return "health checks pass on every asset of the phase";
    case "failure-budget":
      return `failures ≤ ${gate.max}`;
    case "observation":
      return `observe ${formatDuration(gate.ms)}`;
    case "soak":
      return `soak ${formatDuration(gate.ms)} before ring "${gate.nextRing}"`;
    case "exact-promotion":
      return `ring "${gate.toRing}" gets the exact patch that passed ring "${gate.fromRing}"`;
    case "final-verification":
      return plan.summary.toPatch === 1
        ? "final verification of the asset"
        : `final verification of all ${plan.summary.toPatch} assets`;
    case "progress-deadline":
      return `passes within ${formatDuration(gate.ms)} of its start`;
  }
}

// Gates every phase has are summed up once in the budget line; the others follow the phase as "then …".
const ROUTINE: ReadonlySet<PlanGate["kind"]> = new Set(["health", "failure-budget", "progress-deadline"]);

const SKIP_WORDS: Record<SkipReason, string> = {
  "up-to-date": "up-to-date",
  "not-installed": "not installed",
  "unknown-version": "unknown version",
  excluded: "excluded",
};

function skipDetail(s: PlanSkip): string {
  switch (s.reason) {
    case "up-to-date":
      return `up to date (${s.installedVersion ?? "?"} installed)`;
    case "unknown-version":
      return `installed version "${s.installedVersion ?? ""}" cannot be compared`;
    default:
      return SKIP_WORDS[s.reason];
  }
}

function budgetText(plan: PlanV2): string {
  const waves = plan.phases.filter((p) => p.kind === "wave").map((p) => p.failureBudget);
  const low = Math.min(...waves);
  const high = Math.max(...waves);
  const perWave = waves.length === 0 ? "none" : low === high ? `${low}` : `${low}–${high}`;
  const deadline =
    plan.progressDeadlineMs > 0
      ? ` Each phase must pass within ${formatDuration(plan.progressDeadlineMs)}.`
      : "";
  return `Failure budget: ${perWave} per wave, ${plan.totalFailureBudget} in total.${deadline} Rollback: ${plan.rollback}.`;
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

/** "Plan: 18 to patch, 2 skipped (1 up-to-date, 1 not installed); 3 phases in 2 rings; earliest start …; estimated end …." */
export function summaryLine(plan: PlanV2): string {
  const { summary } = plan;
  const counts = new Map<SkipReason, number>();
  for (const s of plan.skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  // In the table's order, whatever order the assets came in.
  const why = (Object.keys(SKIP_WORDS) as SkipReason[])
    .filter((reason) => counts.has(reason))
    .map((reason) => `${counts.get(reason)} ${SKIP_WORDS[reason]}`)
    .join(", ");
  const skipped = `${summary.skipped} skipped${why === "" ? "" : ` (${why})`}`;
  const shape = `${plural(summary.phases, "phase")} in ${plural(summary.rings, "ring")}`;
  const at = (iso: string | null) => (iso === null ? "none" : localTime(iso, plan.timezone));
  return `Plan: ${summary.toPatch} to patch, ${skipped}; ${shape}; earliest start ${at(summary.earliestStart)}; estimated end ${at(summary.estimatedEnd)}.`;
}

/**
 * The plan as a timeline for people, one line per row and a final newline; `title` names what is rolled
 * out (e.g. "openssl 3.0.15-1~deb12u1").
 */
export function formatPlanTimeline(plan: PlanV2, title?: string): string {
  const what = title === undefined || title.trim() === "" ? "" : `${title} → `;
  const emergency = plan.emergency ? ", emergency" : "";
  const lines = [
    `Plan for ${what}selector "${plan.selector}" (policy ${plan.policy.name} v${plan.policy.version}, ${plan.timezone}${emergency})`,
    plan.schedule.start === null
      ? `Cannot be scheduled — ${plan.schedule.reason}`
      : `Starts ${isoInZone(plan.schedule.start, plan.timezone)} — ${plan.schedule.reason}`,
  ];
  const versions = new Map(plan.targets.map((t) => [t.id, `${t.fromVersion || "?"} → ${t.toVersion}`]));
  const indexWidth = `${plan.phases.length}.`.length;
  const phaseRows = columns(
    plan.phases.map((p, i) => {
      const then = p.gates.filter((g) => !ROUTINE.has(g.kind)).map((g) => gateText(g, plan));
      return [
        `${`${i + 1}.`.padEnd(indexWidth)} ${p.name}`,
        plural(p.assets.length, "asset"),
        localTime(p.start, plan.timezone),
        p.batches.length > 1 ? `${p.batches.length} batches` : "",
        then.length > 0 ? `then ${then.join(", ")}` : "",
      ];
    }),
  );
  // Every asset under its phase, names in one column across the whole plan.
  const assetRows = columns(
    plan.phases.flatMap((p) =>
      p.assets.map((a) => [a.name, versions.get(a.id) ?? `? → ${plan.patch.version}`]),
    ),
  );
  let next = 0;
  plan.phases.forEach((p, i) => {
    lines.push(`  ${phaseRows[i] ?? ""}`);
    for (const _ of p.assets) lines.push(`       ${assetRows[next++] ?? ""}`);
  });
  if (plan.skipped.length > 0) {
    lines.push("Skipped:");
    lines.push(...columns(plan.skipped.map((s) => [s.name, skipDetail(s)])).map((row) => `       ${row}`));
  }
  lines.push(budgetText(plan));
  for (const w of plan.warnings) lines.push(`Warning: ${w}`);
  lines.push(summaryLine(plan));
  // Ends with a newline, ready for stdout.
  return `${lines.join("\n")}\n`;
}
