import { describe, expect, it } from "vitest";
import { isAppError } from "./errors.js";
import { hiddenCharacterKind, normaliseName, visible } from "./names.js";

const rule = { what: "principal name", where: "/name", reason: "principal.invalid-name" as const };

function refusal(raw: string): { reason: string; where: string | undefined; message: string } {
  try {
    normaliseName(raw, { ...rule, reserved: new Set(["system"]) });
  } catch (err) {
    if (isAppError(err)) return { reason: err.reason, where: err.where, message: err.message };
    throw err;
  }
  throw new Error(`"${raw}" was accepted`);
}

describe("principal and token names", () => {
  it.each([
    ["alice", "alice"],
    ["Alice", "alice"],
    ["ALICE", "alice"],
    ["ci-bot", "ci-bot"],
    ["cab_1.eu", "cab_1.eu"],
    ["a", "a"],
    ["x".repeat(63), "x".repeat(63)],
    // KELVIN SIGN is a canonical singleton: NFC makes it the letter K.
    ["\u212Aate", "kate"],
  ])("%j is stored as %j", (raw, name) => {
    expect(normaliseName(raw, rule)).toBe(name);
  });

  it.each([
    ["ali\u200bce", "an invisible character", "U+200B", 3],
    ["alice\u200d", "an invisible character", "U+200D", 5],
    ["\ufeffalice", "an invisible character", "U+FEFF", 0],
    ["ali\u00adce", "an invisible character", "U+00AD", 3],
    ["alice\u0000", "a NUL character", "U+0000", 5],
    ["alice\u0007", "a control character", "U+0007", 5],
    ["\u202enimda", "a bidirectional text control character", "U+202E", 0],
    ["alice\u2066", "a bidirectional text control character", "U+2066", 5],
    ["alice\u200f", "a bidirectional text control character", "U+200F", 5],
    ["alice\ud800", "a lone surrogate", "U+D800", 5],
    ["alice\u2028", "an invisible character", "U+2028", 5],
    ["al\u3164ice", "an invisible character", "U+3164", 2],
  ])("%j is refused: %s", (raw, kind, codePoint, offset) => {
    const err = refusal(raw);
    expect(err.reason).toBe("principal.invalid-name");
    expect(err.where).toBe("/name");
    expect(err.message).toContain(kind);
    expect(err.message).toContain(codePoint);
    expect(err.message).toContain(`offset ${offset}`);
  });

  it.each([
    "",
    "x".repeat(64),
    "alice smith",
    "alice@example.com",
    "-alice",
    "alice.",
    "ops/alice",
    "agent:host-1",
    // Visible letters outside a-z are refused, not folded: names stay what an admin can type and read.
    "josé",
    "аlice",
    "ａｌｉｃｅ",
  ])("%j is refused by the label characters", (raw) => {
    expect(refusal(raw).reason).toBe("principal.invalid-name");
  });

  it("reserved names are refused in any case", () => {
    expect(refusal("System").message).toContain("reserved");
  });

  it("messages show hidden characters by their code point", () => {
    expect(visible("a\u200bb\u202e")).toBe("a<U+200B>b<U+202E>");
    expect(hiddenCharacterKind("a")).toBeNull();
    expect(hiddenCharacterKind(" ")).toBeNull();
  });
});
