/**
 * Checks on the shape of parsed input (request bodies, JSON and YAML files) before anything reads it:
 * strings must be well-formed UTF-16 (a lone surrogate cannot be stored in PostgreSQL, nor written as
 * UTF-8), and nesting is bounded so that recursive readers (zod, importers) never run out of stack.
 */
import { jsonPointer, ValidationError } from "./errors.js";

/** Deeper than any document autopatch reads; far below what exhausts the stack of a recursive reader. */
export const MAX_INPUT_DEPTH = 256;

export type InputPath = ReadonlyArray<string | number>;

export interface InputProblem {
  kind: "lone-surrogate" | "too-deep";
  path: InputPath;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * The first problem in a parsed value, depth first in document order, or null. Walks with an explicit
 * stack, so a value nested a million levels deep is reported rather than overflowing.
 */
export function findInputProblem(value: unknown, maxDepth = MAX_INPUT_DEPTH): InputProblem | null {
  // Each entry links to its parent, so paths are built only for the problem found, not for every node.
  interface Entry {
    value: unknown;
    key: string | number;
    depth: number;
    parent: Entry | null;
  }
  const pathOf = (entry: Entry | null, last?: string): Array<string | number> => {
    const path: Array<string | number> = last === undefined ? [] : [last];
    for (let e = entry; e?.parent; e = e.parent) path.unshift(e.key);
    return path;
  };
  const stack: Entry[] = [{ value, key: "", depth: 0, parent: null }];
  while (stack.length > 0) {
    const entry = stack.pop();
    if (entry === undefined) break;
    const v = entry.value;
    if (typeof v === "string") {
      if (hasLoneSurrogate(v)) return { kind: "lone-surrogate", path: pathOf(entry) };
      continue;
    }
    // Raw bytes (an uploaded package file) hold no strings to check, and walking them byte by byte is costly.
    if (v === null || typeof v !== "object" || v instanceof Uint8Array) continue;
    if (entry.depth >= maxDepth) return { kind: "too-deep", path: pathOf(entry) };
    const depth = entry.depth + 1;
    const children: Entry[] = [];
    if (Array.isArray(v)) {
      v.forEach((child: unknown, i) => {
        children.push({ value: child, key: i, depth, parent: entry });
      });
    } else {
      for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
        if (hasLoneSurrogate(key)) return { kind: "lone-surrogate", path: pathOf(entry, key) };
        children.push({ value: child, key, depth, parent: entry });
      }
    }
    // Reversed so that the first child is looked at first.
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child) stack.push(child);
    }
  }
  return null;
}

/** The message a person reads for a problem. */
export function describeInputProblem(problem: InputProblem, maxDepth = MAX_INPUT_DEPTH): string {
  return problem.kind === "lone-surrogate"
    ? "text contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff), which is not valid Unicode"
    : `input is nested more than ${maxDepth} levels deep`;
}

/**
 * Throws a 400 for the first problem in a parsed value; `where` turns the problem's path into a
 * location (a file name and pointer, or `/body/…` for a request).
 */
export function assertWellFormedInput(
  value: unknown,
  where: (path: InputPath) => string,
  maxDepth = MAX_INPUT_DEPTH,
): void {
  const problem = findInputProblem(value, maxDepth);
  if (problem === null) return;
  throw new ValidationError(describeInputProblem(problem, maxDepth), {
    reason: problem.kind === "lone-surrogate" ? "input.lone-surrogate" : "input.too-deep",
    where: where(problem.path),
  });
}

/** A JSON pointer for a path, with the empty path as "" so it can follow a prefix (`/body`). */
export function pointerSuffix(path: InputPath): string {
  return path.length === 0 ? "" : jsonPointer(path);
}
