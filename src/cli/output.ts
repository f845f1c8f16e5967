import Table from "cli-table3";
import { isAppError } from "../domain/errors.js";

/** Prints a value as pretty JSON on stdout (the `--json` contract: nothing else goes to stdout). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
}

/** Prints rows as a human table. */
export function printTable<T>(rows: readonly T[], columns: readonly Column<T>[]): void {
  const table = new Table({
    head: columns.map((c) => c.header),
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const row of rows) table.push(columns.map((c) => String(c.value(row) ?? "")));
  process.stdout.write(`${table.toString()}\n`);
}

/** Prints `key: value` lines for one object. */
export function printFields(fields: ReadonlyArray<readonly [string, unknown]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) {
    const text = typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v);
    process.stdout.write(`${`${k}:`.padEnd(width + 2)}${text}\n`);
  }
}

/** Writes an error to stderr (as JSON when `json` is set) and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  if (isAppError(err)) {
    if (json) process.stderr.write(`${JSON.stringify({ error: err.toJSON() })}\n`);
    else process.stderr.write(`error: ${err.describe()}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: "internal", message } })}\n`);
  else process.stderr.write(`error: ${message}\n`);
  return 1;
}
