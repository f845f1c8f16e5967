import pc from "picocolors";

type Paint = (text: string) => string;

/**
 * Colours only on a terminal, never under NO_COLOR (https://no-color.org: set and not empty);
 * FORCE_COLOR turns them on elsewhere. picocolors' own detection also colours pipes under CI.
 */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return isTTY && env.TERM !== "dumb";
}

const colors = pc.createColors(colorEnabled(process.env, process.stdout.isTTY === true));

const plain: Paint = (text) => text;

const CLASS_COLORS: Readonly<Record<string, Paint>> = {
  emergency: (t) => colors.bold(colors.red(t)),
  high: colors.yellow,
  routine: colors.cyan,
};

/** States of changes, rollouts, phases, operations and findings, by what they mean to a reader. */
const STATE_COLORS: ReadonlyArray<readonly [RegExp, Paint]> = [
  [/^(completed|done|passed|succeeded|ok|fixed|approved|valid|healthy|online|closed)\b/, colors.green],
  [
    /^(failed|rolled-back|rolling-back|aborted|rejected|halted|error|reverted|invalid|offline|denied)\b/,
    colors.red,
  ],
  [
    /^(running|in-progress|dispatched|observing|scheduled|submitted|pending|waiting|paused|open)\b/,
    colors.yellow,
  ],
];

export function paintClass(text: string): string {
  const key = text.replace(/!$/, "");
  return (CLASS_COLORS[key] ?? plain)(text);
}

export function paintState(text: string): string {
  for (const [pattern, paint] of STATE_COLORS) if (pattern.test(text)) return paint(text);
  return text;
}

export function paintOverdue(text: string): string {
  return colors.bold(colors.red(text));
}
