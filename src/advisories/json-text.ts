import { ValidationError } from "../domain/errors.js";

/** 1-based line and column of a character offset in a text. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

const POSITION = /at position (\d+)/;
const END_OF_INPUT = /end of JSON input/i;

/** True when `prefix` is valid JSON or could become valid JSON by appending more text. */
function isViablePrefix(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : "";
    if (END_OF_INPUT.test(message)) return true;
    const at = POSITION.exec(message);
    return at?.[1] !== undefined && Number(at[1]) >= prefix.length;
  }
}

/**
 * Offset of the first character that makes `text` invalid JSON. Node 20's JSON.parse often omits the
 * position and no position-reporting JSON parser is installed, so bisect on the longest prefix that
 * JSON.parse still accepts as incomplete rather than wrong.
 */
export function jsonErrorOffset(text: string): number {
  let good = 0;
  let bad = text.length;
  if (isViablePrefix(text)) return text.length;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (isViablePrefix(text.slice(0, mid))) good = mid;
    else bad = mid;
  }
  return good;
}

/**
 * JSON.parse with the failure reported as a ValidationError at `where:line:col`. `firstLine` shifts
 * line numbers for text cut out of a larger file (a JSONL line).
 */
export function parseJsonText(text: string, where: string, firstLine = 1): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const offset = jsonErrorOffset(text);
    const { line, column } = lineColumnAt(text, offset);
    const reason = err instanceof Error ? err.message : String(err);
    throw new ValidationError(`invalid JSON: ${reason}`, {
      where: `${where}:${line + firstLine - 1}:${column}`,
      cause: err,
    });
  }
}
