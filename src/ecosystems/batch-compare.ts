import { isAppError } from "../domain/errors.js";
import type { Ordering, VersionScheme } from "./scheme.js";

/** The symbol printed for each ordering. */
export const ORDERING_SYMBOL: Readonly<Record<Ordering, "<" | "=" | ">">> = { [-1]: "<", 0: "=", 1: ">" };

/**
 * Judges one `a<TAB>b` line: "<", "=", ">" or "error: <reason>". Never throws for bad input, so a batch keeps one
 * output line per input line.
 */
export function judgeLine(scheme: VersionScheme, line: string): string {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  const fields = text.split("\t");
  if (fields.length !== 2)
    return `error: expected two versions separated by one tab, got ${fields.length} field(s)`;
  const [a = "", b = ""] = fields;
  try {
    return ORDERING_SYMBOL[scheme.compare(a, b)];
  } catch (err) {
    if (isAppError(err)) return `error: ${err.message}`;
    throw err;
  }
}

/** Judges many lines; the pure core of `autopatch versions compare --stdin`. */
export function judgeLines(scheme: VersionScheme, lines: Iterable<string>): string[] {
  const out: string[] = [];
  for (const line of lines) out.push(judgeLine(scheme, line));
  return out;
}
