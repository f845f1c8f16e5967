import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "./errors.js";
import { findJsonSyntaxError, jsonWhere, lineColumn, parseJsonText, validateJson } from "./json-text.js";

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

  it.each<[string, number]>([
    ['{"a":}', 5],
    ['{"a":1', 6],
    ['{"a":1}x', 7],
    ["[1,2,]", 5],
    ["[1,]", 3],
    ['{"a" 1}', 5],
    ['{"b": tru}', 9],
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
    ["ab\ncd\nef", 4, 2, 2],
  ])("%j at %i is line %i column %i", (text, offset, line, column) => {
    expect(lineColumn(text, offset)).toEqual({ line, column });
  });
});

describe("parseJsonText", () => {
  const whereOf = (text: string, file: string, firstLine?: number): string | undefined => {
    try {
      parseJsonText(text, file, firstLine);
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      return (err as ValidationError).where;
    }
    return expect.unreachable();
  };

  it("reports line and column, shifted for text cut from a larger file", () => {
    expect(whereOf('{\n  "a": 1,\n  ]\n}', "f.jsonl", 10)).toBe("f.jsonl:12:3");
    expect(whereOf('{\n  "a": 1,\n  ]\n}', "bom.json")).toBe("bom.json:3:3");
  });

  it("drops a byte order mark, and counts columns without it", () => {
    expect(parseJsonText('\uFEFF{"a":1}', "f.json")).toEqual({ a: 1 });
    expect(whereOf('\uFEFF{"a":}', "f.json")).toBe("f.json:1:6");
  });

  it("refuses a lone surrogate spelled as an escape, at its JSON pointer", () => {
    expect(whereOf('{"packages":[{"name":"a"},{"name":"b\\ud800"}]}', "bom.json")).toBe(
      "bom.json#/packages/1/name",
    );
    expect(whereOf('{"k\\udc00":1}', "osv.jsonl", 7)).toBe("osv.jsonl:7#/k\udc00");
    // A proper pair spelled as escapes is fine.
    expect(parseJsonText('{"s":"\\ud83d\\ude00"}', "f.json")).toEqual({ s: "\u{1F600}" });
  });

  it("refuses nesting past the input depth limit, however deep", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(whereOf(deep, "deep.json")).toMatch(/^deep\.json#(\/0){256}$/);
  });
});

describe("validateJson", () => {
  const schema = z.object({ packages: z.array(z.object({ name: z.string() })) });

  it("returns the parsed document or fails at the first issue's pointer, listing all", () => {
    expect(validateJson(schema, { packages: [{ name: "a" }] }, "x.json", "doc")).toEqual({
      packages: [{ name: "a" }],
    });
    try {
      validateJson(schema, { packages: [{ name: 1 }, {}] }, "x.json", "doc");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).where).toBe("x.json#/packages/0/name");
      expect((err as ValidationError).details?.issues).toHaveLength(2);
    }
  });

  it("uses the bare pointer when the file is unknown", () => {
    expect(jsonWhere(undefined, ["a", 0, "b/c"])).toBe("/a/0/b~1c");
    expect(jsonWhere("f.json", [])).toBe("f.json#/");
  });
});
