import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findJsonSyntaxError, lineColumn } from "./json-input.js";

describe("findJsonSyntaxError", () => {
  it("finds nothing wrong in valid JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, indent) => {
        expect(findJsonSyntaxError(JSON.stringify(value, null, indent))).toBeNull();
      }),
    );
  });

  it("agrees with JSON.parse on which texts are valid", () => {
    const jsonish = fc.stringMatching(/^[{}[\]",:0-9a-z.eE+\- \n\\]{0,16}$/);
    fc.assert(
      fc.property(jsonish, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(findJsonSyntaxError(text) === null).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it("points where V8 points when V8 names a position", () => {
    const jsonish = fc.stringMatching(/^[{}[\]",:0-9a-z.\- ]{1,16}$/);
    fc.assert(
      fc.property(jsonish, (text) => {
        try {
          JSON.parse(text);
        } catch (err) {
          const m = /at position (\d+)/.exec((err as Error).message);
          if (m) expect(findJsonSyntaxError(text)).toBe(Number(m[1]));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['{"a":}', 5],
    ["[1,]", 3],
    ['{"a" 1}', 5],
    ["01", 1],
    ["-", 1],
    ["1.", 2],
    ["1e", 2],
    ['"\\x"', 2],
    ['"\\u12g4"', 5],
    ['"a\nb"', 2],
    ["tru", 3],
    ["nul!", 3],
    ["", 0],
    ["{} {}", 3],
  ])("%j fails at %i", (text, offset) => {
    expect(findJsonSyntaxError(text)).toBe(offset);
  });
});

describe("lineColumn", () => {
  it.each([
    ["abc", 0, 1, 1],
    ["abc", 3, 1, 4],
    ["a\nbc", 2, 2, 1],
    ["a\nbc\n", 4, 2, 3],
  ])("%j at %i is line %i column %i", (text, offset, line, column) => {
    expect(lineColumn(text, offset)).toEqual({ line, column });
  });
});
