/**
 * JSON input with located errors: a syntax error becomes a ValidationError at `file:line:col`, a schema
 * problem one at `file#/json/pointer`. Every reader of JSON documents (SBOMs, OSV, KEV) goes through it.
 */
import type { z } from "zod";
import { jsonPointer, ValidationError } from "./errors.js";
import { assertWellFormedInput } from "./input-shape.js";

/** `file#/pointer` when the file is known, else the bare pointer. */
export function jsonWhere(file: string | undefined, path: ReadonlyArray<PropertyKey>): string {
  const pointer = jsonPointer(path);
  return file === undefined ? pointer : `${file}#${pointer}`;
}

/** 1-based line and column of a character offset in a text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Offset of the first JSON syntax error, or null if the text is valid JSON. Hand-written because Node
 * 20's JSON.parse often names no position ("Unexpected token '}' … is not valid JSON") and no installed
 * library reports one; it runs only after JSON.parse has failed, in one pass over the text.
 */
export function findJsonSyntaxError(text: string): number | null {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && " \t\r\n".includes(text.charAt(i))) i++;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && text.charAt(i) >= "0" && text.charAt(i) <= "9") i++;
    return i > start;
  };
  const fail = (): never => {
    throw i;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail();
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 92) {
        i++;
        const e = text.charAt(i);
        if (e === "u") {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text.charAt(i + k))) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if ('"\\/bfnrt'.includes(e) && e !== "") i++;
        else fail();
      } else i++;
    }
  };
  const number = () => {
    if (text.charAt(i) === "-") i++;
    if (text.charAt(i) === "0") i++;
    else if (!digits()) fail();
    if (text.charAt(i) === ".") {
      i++;
      if (!digits()) fail();
    }
    if (text.charAt(i) === "e" || text.charAt(i) === "E") {
      i++;
      if (text.charAt(i) === "+" || text.charAt(i) === "-") i++;
      if (!digits()) fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      ws();
      if (text.charAt(i) === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text.charAt(i) !== '"') fail();
        string();
        ws();
        if (text.charAt(i) !== ":") fail();
        i++;
        value();
        ws();
        if (text.charAt(i) === ",") i++;
        else if (text.charAt(i) === "}") {
          i++;
          return;
        } else fail();
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text.charAt(i) === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text.charAt(i) === ",") i++;
        else if (text.charAt(i) === "]") {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') {
      string();
      return;
    }
    if (c === "-" || (c >= "0" && c <= "9")) {
      number();
      return;
    }
    const word = c === "t" ? "true" : c === "f" ? "false" : c === "n" ? "null" : "";
    if (word === "") fail();
    // Like V8, blame the first character that leaves the literal.
    for (const ch of word) {
      if (text.charAt(i) !== ch) fail();
      i++;
    }
  };
  try {
    value();
    ws();
    return i < n ? i : null;
  } catch (err) {
    if (typeof err === "number") return err;
    // Nesting too deep for the stack: the location is unknown.
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/**
 * JSON.parse with a syntax error reported as a ValidationError at `where:line:col`, and a lone surrogate
 * or nesting past MAX_INPUT_DEPTH at `where#/json/pointer`. A leading UTF-8 byte
 * order mark is dropped (legal in a file, not in JSON). `firstLine` shifts line numbers for text cut out
 * of a larger file (a JSONL line).
 */
export function parseJsonText(text: string, where: string, firstLine = 1): unknown {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    const offset = findJsonSyntaxError(body) ?? body.length;
    const { line, column } = lineColumn(body, offset);
    const why = err instanceof Error ? err.message : String(err);
    throw new ValidationError(`invalid JSON: ${why}`, {
      where: `${where}:${line + firstLine - 1}:${column}`,
      cause: err,
    });
  }
  // JSON escapes can spell lone surrogates, and JSON.parse nests deeper than any recursive reader can follow.
  const file = firstLine === 1 ? where : `${where}:${firstLine}`;
  assertWellFormedInput(value, (path) => `${file}#${jsonPointer(path)}`);
  return value;
}

/** Validates a parsed document; the first zod issue becomes the error, all of them go in `details`. */
export function validateJson<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string | undefined,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    where: jsonWhere(file, issue.path),
    message: issue.message,
  }));
  const first = parsed.error.issues[0];
  throw new ValidationError(`not a valid ${what}: ${first?.message ?? "invalid document"}`, {
    where: jsonWhere(file, first?.path ?? []),
    details: { issues },
  });
}
