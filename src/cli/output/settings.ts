/** How the command that runs prints its data; set once from its flags before its action runs. */
export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputSettings {
  format: OutputFormat;
  /** Long tables go through $PAGER on a terminal unless --no-pager. */
  pager: boolean;
  /** --utc: times in UTC instead of the user's zone. */
  utc: boolean;
}

const DEFAULTS: OutputSettings = { format: "table", pager: true, utc: false };
let current: OutputSettings = { ...DEFAULTS };

export function configureOutput(settings: Partial<OutputSettings>): void {
  current = { ...DEFAULTS, ...settings };
}

export function outputSettings(): Readonly<OutputSettings> {
  return current;
}

/** JSON and YAML are for scripts: no tables, no decoration. */
export function isMachineFormat(format: OutputFormat): boolean {
  return format === "json" || format === "yaml";
}
