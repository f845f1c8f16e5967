import Table from "cli-table3";
import { writePaged } from "./pager.js";
import { outputSettings } from "./settings.js";

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
  /** Shown only with `-o wide`: the plain table keeps the columns that matter most. */
  wide?: boolean;
  /** Never cut to fit (ids people copy into the next command). */
  keep?: boolean;
  /** Colours a cell on a terminal (after it is cut to width). */
  paint?: (text: string, row: T) => string;
}

export interface TableOptions {
  /** What to say for no rows (default `No resources found`, on stderr as kubectl does). */
  empty?: string;
  /** Columns available (default: $COLUMNS, the terminal's width, else 100). */
  width?: number;
}

const MIN_COLUMN = 6;

/** The width a table must fit: wide tables any; others $COLUMNS, the terminal, else 100. */
function targetWidth(wide: boolean, given: number | undefined): number {
  if (wide) return Number.POSITIVE_INFINITY;
  if (given !== undefined) return given;
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return process.stdout.isTTY === true && process.stdout.columns ? process.stdout.columns : 100;
}

const cut = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

/**
 * Column widths for cells that fit `limit`: the widest column gives up characters first, none goes
 * below its header or six characters. A bordered cell takes its width plus three.
 */
export function fitWidths(natural: readonly number[], floors: readonly number[], limit: number): number[] {
  const widths = [...natural];
  const total = () => widths.reduce((sum, w) => sum + w + 3, 1);
  while (total() > limit) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const w = widths[i] ?? 0;
      if (w > (floors[i] ?? MIN_COLUMN) && (widest < 0 || w > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

/** The table as text: the plain columns fitted to the width, or every column under `-o wide`. */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  options: TableOptions & { wide?: boolean } = {},
): string {
  const wide = options.wide ?? outputSettings().format === "wide";
  const shown = columns.filter((c) => wide || !c.wide);
  const cells = rows.map((row) => shown.map((c) => String(c.value(row) ?? "").replace(/\s*\n\s*/g, " ")));
  const natural = shown.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? "").length)));
  const floors = shown.map((c, i) => (c.keep ? (natural[i] ?? 0) : Math.max(MIN_COLUMN, c.header.length)));
  const widths = fitWidths(natural, floors, targetWidth(wide, options.width));
  const table = new Table({
    head: shown.map((c) => c.header),
    colWidths: widths.map((w) => w + 2),
    wordWrap: false,
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  rows.forEach((row, r) => {
    table.push(
      shown.map((c, i) => {
        const text = cut(cells[r]?.[i] ?? "", widths[i] ?? MIN_COLUMN);
        return c.paint ? c.paint(text, row) : text;
      }),
    );
  });
  return `${table.toString()}\n`;
}

/** Prints rows as a table (paged on a terminal when long), or says there are none. */
export function printTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  options: TableOptions = {},
): void {
  if (rows.length === 0) {
    process.stderr.write(`${options.empty ?? "No resources found"}\n`);
    return;
  }
  writePaged(renderTable(rows, columns, options));
}
