import { type Command, Option } from "commander";
import { ValidationError } from "../../domain/errors.js";
import { configureOutput, isMachineFormat, OUTPUT_FORMATS, type OutputFormat } from "./settings.js";

export interface OutputFlags {
  output?: OutputFormat;
  /** Machine-readable output was asked for (`--json`, `-o json` or `-o yaml`): set before the action runs. */
  json?: boolean;
  pager?: boolean;
  utc?: boolean;
}

/** Adds `-o/--output`, its `--json` alias, `--no-pager` and `--utc` to a command that prints data. */
export function withOutputFlags(
  command: Command,
  json = "print JSON for scripts (same as -o json)",
): Command {
  return command
    .addOption(
      new Option(
        "-o, --output <format>",
        "output format: table (the main columns), wide (every column), json or yaml",
      ).choices(OUTPUT_FORMATS),
    )
    .option("--json", json)
    .option("--no-pager", "never page long tables on a terminal")
    .option("--utc", "print times in UTC instead of the local time zone");
}

/** The format `-o` names, else json for `--json`, else a table. */
export function formatFromFlags(flags: OutputFlags): OutputFormat {
  if (flags.output !== undefined) {
    if (flags.json && flags.output !== "json")
      throw new ValidationError(`--json contradicts -o ${flags.output}`, { where: "--output" });
    return flags.output;
  }
  return flags.json ? "json" : "table";
}

/** Whether argv asks for machine-readable output, for errors raised before the flags are parsed. */
export function argvWantsMachineOutput(argv: readonly string[]): boolean {
  return argv.some((arg, i) => {
    if (arg === "--json") return true;
    const inline = /^(?:--output=|-o=?)(json|yaml)$/.exec(arg);
    if (inline) return true;
    const next = argv[i + 1];
    return (
      (arg === "-o" || arg === "--output") && next !== undefined && isMachineFormat(next as OutputFormat)
    );
  });
}

/**
 * Reads a command's output flags into the output settings before its action runs, and sets `json`
 * when the output is for scripts, so that actions test one flag for JSON and YAML alike.
 */
export function applyOutputFlags(command: Command): void {
  const flags = command.opts<OutputFlags>();
  const format = formatFromFlags(flags);
  if (flags.json !== undefined || flags.output !== undefined)
    command.setOptionValue("json", isMachineFormat(format));
  configureOutput({ format, pager: flags.pager !== false, utc: flags.utc === true });
}
