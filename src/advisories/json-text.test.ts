import { describe, expect, it } from "vitest";
import { ValidationError } from "../domain/errors.js";
import { jsonErrorOffset, lineColumnAt, parseJsonText } from "./json-text.js";

describe("jsonErrorOffset", () => {
  it.each<[string, number]>([
    ['{"a":}', 5],
    ['{"a":1', 6],
    ['{"a":1}x', 7],
    ["[1,2,]", 5],
    ['{"b": tru}', 9],
    ["", 0],
    ['{"a":1}', 7],
  ])("%j → %i", (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });
});

describe("parseJsonText", () => {
  it("reports line and column, shifted for text cut from a larger file", () => {
    expect(lineColumnAt("ab\ncd\nef", 4)).toEqual({ line: 2, column: 2 });
    try {
      parseJsonText('{\n  "a": 1,\n  ]\n}', "f.jsonl", 10);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).where).toBe("f.jsonl:12:3");
    }
  });
});
