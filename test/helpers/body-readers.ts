import { expect } from "vitest";
import type { z } from "zod";
import { findInputProblem } from "../../src/domain/input-shape.js";

/** A package record with every field an agent sends, at its canonical spelling. */
export const FULL_PACKAGE = {
  ecosystem: "Debian:12",
  name: "openssl",
  version: "3.0.11-1~deb12u2",
  sourceName: "openssl",
  sourceVersion: "3.0.11-1~deb12u2",
  arch: "amd64",
  purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
};

/** Values of a string field limited to `max` characters: at and past the limit, other types, broken text. */
export function valuesAround(max: number): unknown[] {
  return ["", "x".repeat(max), "x".repeat(max + 1), null, 7, true, ["x"], "a\ud800b", "😀"];
}

/**
 * Checks a fast body reader against its schema over `bodies`: where it returns a value, the input
 * guard and zod accept the body and the value is zod's, with its keys in zod's order (the whole value's
 * and each part `keyed` picks); a valid body it leaves to the usual path holds a key the schema does
 * not name (matching `unnamed`). Returns how many bodies it read.
 */
export function expectReaderAgrees<S extends z.ZodType>(
  bodies: readonly unknown[],
  read: (body: unknown) => z.output<S> | undefined,
  schema: S,
  options: { unnamed: RegExp; keyed: ReadonlyArray<(value: z.output<S>) => object | undefined> },
): number {
  let count = 0;
  for (const body of bodies) {
    const fast = read(body);
    const guard = findInputProblem(body);
    const zod = schema.safeParse(body);
    if (fast !== undefined) {
      count += 1;
      expect(guard, JSON.stringify(body)).toBeNull();
      expect(zod.success, JSON.stringify(body)).toBe(true);
      expect(fast).toStrictEqual(zod.data);
      for (const part of options.keyed) {
        expect(Object.keys(part(fast) ?? {})).toEqual(Object.keys(zod.success ? (part(zod.data) ?? {}) : {}));
      }
    } else if (guard === null && zod.success) {
      // Only bodies with keys the schema does not name are left to the usual path when valid.
      expect(JSON.stringify(body)).toMatch(options.unnamed);
    }
  }
  return count;
}
