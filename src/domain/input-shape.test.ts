import { describe, expect, it } from "vitest";
import { assertWellFormedInput, findInputProblem, hasLoneSurrogate, MAX_INPUT_DEPTH } from "./input-shape.js";

function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

describe("input shape", () => {
  it.each([
    ["a lone high surrogate", "caf\ud800", true],
    ["a lone low surrogate", "\udc00x", true],
    ["a high surrogate at the end", "x\udbff", true],
    ["a reversed pair", "\ude00\ud83d", true],
    ["a proper pair (an emoji)", "smile \ud83d\ude00", false],
    ["plain text", "openssl 3.0.15-1~deb12u1", false],
    ["the replacement character", "\ufffd", false],
  ])("%s", (_what, text, lone) => {
    expect(hasLoneSurrogate(text)).toBe(lone);
  });

  it("finds the first lone surrogate in values and keys, with its path", () => {
    expect(findInputProblem({ a: ["ok", { b: "x\ud800" }] })).toEqual({
      kind: "lone-surrogate",
      path: ["a", 1, "b"],
    });
    expect(findInputProblem({ labels: { "k\udfff": "v" } })).toEqual({
      kind: "lone-surrogate",
      path: ["labels", "k\udfff"],
    });
    expect(findInputProblem({ a: [1, true, null, "fine"] })).toBeNull();
  });

  it.each([
    // An object's keys come before its values; earlier siblings, and what they hold, before later ones.
    [{ a: { b: "x\ud800" }, "k\udfff": 1 }, ["k\udfff"]],
    [
      [{ x: "\ud800" }, "\udc00"],
      [0, "x"],
    ],
    [{ a: [["ok"], ["ok", "\ud800"]], b: "\udc00" }, ["a", 1, 1]],
    ["\ud800", []],
  ])("reports the first problem in document order: %j", (value, path) => {
    expect(findInputProblem(value)).toEqual({ kind: "lone-surrogate", path });
  });

  it("reports nesting past the limit without overflowing the stack, however deep", () => {
    expect(findInputProblem(nested(MAX_INPUT_DEPTH))).toBeNull();
    const problem = findInputProblem(nested(200_000));
    expect(problem?.kind).toBe("too-deep");
    expect(problem?.path).toHaveLength(MAX_INPUT_DEPTH);
  });

  it("throws a 400 with the reason and the location the caller builds", () => {
    expect(() => assertWellFormedInput({ content: "\ud800" }, (p) => `/body/${p.join("/")}`)).toThrow(
      expect.objectContaining({ reason: "input.lone-surrogate", where: "/body/content", status: 400 }),
    );
  });
});
