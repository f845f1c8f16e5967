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

export function hasLoneSurrogate(text: string): boolean {
  // A lone surrogate is exactly what makes a string not well-formed; the built-in check is about
  // three times faster than a regular expression on the short strings of a report.
  return !text.isWellFormed();
}

/**
 * The first problem in a parsed value, depth first in document order, or null. Walks with an explicit
 * stack, so a value nested a million levels deep is reported rather than overflowing. Only containers
 * get a stack frame, and a path is built only for the problem found: the strings of a 600-package
 * report are checked where they sit, without an allocation each.
 */
export function findInputProblem(value: unknown, maxDepth = MAX_INPUT_DEPTH): InputProblem | null {
  interface Frame {
    container: object;
    /** The object's keys, or null for an array. */
    keys: string[] | null;
    next: number;
    depth: number;
    parent: Frame | null;
    key: string | number;
  }
  const pathOf = (frame: Frame, last: string | number): Array<string | number> => {
    const path: Array<string | number> = [last];
    for (let f: Frame | null = frame; f?.parent; f = f.parent) path.unshift(f.key);
    return path;
  };
  // An object's keys are looked at when it is reached, before any of its values.
  const loneKey = (keys: readonly string[]): string | undefined => keys.find(hasLoneSurrogate);
  if (typeof value === "string") return hasLoneSurrogate(value) ? { kind: "lone-surrogate", path: [] } : null;
  // Raw bytes (an uploaded package file) hold no strings to check, and walking them byte by byte is costly.
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return null;
  if (maxDepth <= 0) return { kind: "too-deep", path: [] };
  const rootKeys = Array.isArray(value) ? null : Object.keys(value);
  const rootLone = rootKeys === null ? undefined : loneKey(rootKeys);
  if (rootLone !== undefined) return { kind: "lone-surrogate", path: [rootLone] };
  let top: Frame | null = { container: value, keys: rootKeys, next: 0, depth: 0, parent: null, key: "" };
  while (top !== null) {
    const keys = top.keys;
    const size = keys === null ? (top.container as unknown[]).length : keys.length;
    if (top.next >= size) {
      top = top.parent;
      continue;
    }
    const key: string | number = keys === null ? top.next : (keys[top.next] as string);
    const child: unknown =
      keys === null
        ? (top.container as unknown[])[top.next]
        : (top.container as Record<string, unknown>)[key as string];
    top.next += 1;
    if (typeof child === "string") {
      if (hasLoneSurrogate(child)) return { kind: "lone-surrogate", path: pathOf(top, key) };
      continue;
    }
    if (child === null || typeof child !== "object" || child instanceof Uint8Array) continue;
    const depth = top.depth + 1;
    if (depth >= maxDepth) return { kind: "too-deep", path: pathOf(top, key) };
    const childKeys = Array.isArray(child) ? null : Object.keys(child);
    const lone = childKeys === null ? undefined : loneKey(childKeys);
    if (lone !== undefined) return { kind: "lone-surrogate", path: [...pathOf(top, key), lone] };
    top = { container: child, keys: childKeys, next: 0, depth, parent: top, key };
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
