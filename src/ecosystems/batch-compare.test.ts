import { describe, expect, it } from "vitest";
import { judgeLine, judgeLines } from "./batch-compare.js";
import { schemeForEcosystem } from "./registry.js";

describe("judgeLine", () => {
  it.each([
    ["Debian", "1.0-1\t1.0-2", "<"],
    ["Debian", "1:1.0\t2.0", ">"],
    ["Debian", "1.0\t1.0-0", "="],
    ["Debian", "1.0\t1.0\r", "="],
    ["PyPI", "1.0a1\t1.0", "<"],
    ["npm", "1.0.0-rc.1\t1.0.0", "<"],
    ["Maven", "1.0-SNAPSHOT\t1.0", "<"],
    ["Go", "1.2.3\tv1.2.3", "="],
    ["Red Hat", "1.0~rc1-1\t1.0-1", "<"],
  ])("%s %j → %s", (ecosystem, line, expected) => {
    expect(judgeLine(schemeForEcosystem(ecosystem), line)).toBe(expected);
  });

  it.each([
    ["Debian", "1:abc\t1.0", 'error: Debian version "1:abc": upstream version must start with a digit'],
    ["Debian", "1.0", "error: expected two versions separated by one tab, got 1 field(s)"],
    ["Debian", "1.0\t2.0\t3.0", "error: expected two versions separated by one tab, got 3 field(s)"],
    ["Debian", "", "error: expected two versions separated by one tab, got 1 field(s)"],
    [
      "npm",
      "1.2\t1.2.0",
      'error: SemVer (npm, crates.io) version "1.2": not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (SemVer 2.0.0)',
    ],
  ])("%s %j → an error line", (ecosystem, line, expected) => {
    expect(judgeLine(schemeForEcosystem(ecosystem), line)).toBe(expected);
  });
});

describe("judgeLines", () => {
  it("answers one line per input line, in order, errors included", () => {
    const lines = ["1.0\t2.0", "bad", "2.0\t1.0", "1.0\t1.0"];
    expect(judgeLines(schemeForEcosystem("deb"), lines)).toEqual([
      "<",
      "error: expected two versions separated by one tab, got 1 field(s)",
      ">",
      "=",
    ]);
  });

  it("handles 100,000 lines quickly", () => {
    const lines = Array.from(
      { length: 100_000 },
      (_, i) => `1.${i % 97}.${i % 13}-${i % 7}\t1.${i % 89}.3-1`,
    );
    const started = performance.now();
    const out = judgeLines(schemeForEcosystem("deb"), lines);
    expect(out).toHaveLength(100_000);
    expect(out.every((o) => o === "<" || o === "=" || o === ">")).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
