import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../domain/errors.js";
import { pick, randomString, seededRandom, toolWorks } from "../differential.js";
import { vectorVersions } from "../vector-file.js";
import { debScheme, parseDebVersion } from "./deb-scheme.js";

describe("deb scheme: primary sources", () => {
  // Debian Policy §5.6.12 (Version): "~~" < "~~a" < "~" < "" < "a" for the same prefix.
  it.each([
    ["1.0~~", "1.0~~a"],
    ["1.0~~a", "1.0~"],
    ["1.0~", "1.0"],
    ["1.0", "1.0a"],
  ])("Debian Policy tilde example: %s < %s", (a, b) => {
    expect(debScheme.compare(a, b)).toBe(-1);
    expect(debScheme.compare(b, a)).toBe(1);
  });

  // dpkg's own unit tests (lib/dpkg/t/t-version.c) and deb-version(7): epochs win, letters sort before
  // non-letters, digit runs compare numerically, a missing revision equals "0".
  it.each([
    ["1:0", "0:9", 1],
    ["0:1.0", "1.0", 0],
    ["1.0-0", "1.0", 0],
    ["1.0-1", "1.0-1", 0],
    ["1.0a", "1.0+", -1],
    ["1.0a", "1.0.", -1],
    ["1.10", "1.9", 1],
    ["1.001", "1.1", 0],
    ["2.30-1", "2.30-1ubuntu1", -1],
    ["1.2.3-1~deb12u1", "1.2.3-1", -1],
    ["1:2.0", "2:1.0", -1],
  ] as const)("dpkg: %s vs %s → %i", (a, b, expected) => {
    expect(debScheme.compare(a, b)).toBe(expected);
  });

  it.each([
    ["1:abc", "upstream version must start with a digit"],
    ["a:1.0", 'epoch "a" is not a number'],
    [":1.0", "epoch is empty"],
    ["99999999999:1.0", "is too big"],
    ["1.0-", "revision is empty"],
    ["-1", "upstream version is empty"],
    ["", "version string is empty"],
    ["1.0 1", "embedded spaces"],
    ["1.0_1", 'upstream version "1.0_1" has an invalid character'],
    ["1.0-1_2", 'revision "1_2" has an invalid character'],
  ])("rejects %j: %s", (version, reason) => {
    expect(debScheme.isValid(version)).toBe(false);
    expect(() => parseDebVersion(version)).toThrow(ValidationError);
    expect(() => debScheme.compare(version, "1.0")).toThrow(reason);
    expect(() => debScheme.compare(version, "1.0")).toThrow(/^Debian version /);
  });

  it.each([
    ["1:1.0-1", { epoch: 1, upstream: "1.0", revision: "1" }],
    ["1.0-2-3", { epoch: 0, upstream: "1.0-2", revision: "3" }],
    ["2:1.0:3", { epoch: 2, upstream: "1.0:3", revision: "" }],
  ])("parses %s", (version, parsed) => {
    expect(parseDebVersion(version)).toEqual(parsed);
  });
});

const DPKG = toolWorks("dpkg", ["--version"]);
const DPKG_MISSING = "requires dpkg (dpkg --compare-versions): apt-get install dpkg";
if (!DPKG) console.warn(`deb differential test skipped: ${DPKG_MISSING}`);

/** Asks dpkg about many pairs in one shell run: "<", "=" or ">" per pair. */
function dpkgOrder(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const quote = (s: string) => `'${s}'`;
  const script = pairs
    .map(
      ([a, b]) =>
        `if dpkg --compare-versions ${quote(a)} lt ${quote(b)} 2>/dev/null; then echo '<'; ` +
        `elif dpkg --compare-versions ${quote(a)} eq ${quote(b)} 2>/dev/null; then echo '='; else echo '>'; fi`,
    )
    .join("\n");
  const result = spawnSync("sh", ["-s"], { input: script, encoding: "utf8", maxBuffer: 1 << 24 });
  return result.stdout.trim().split("\n");
}

describe("deb scheme: differential against dpkg --compare-versions", () => {
  it.skipIf(!DPKG)(
    `${DPKG ? "" : `[skipped: ${DPKG_MISSING}] `}agrees with dpkg on random and real versions`,
    () => {
      const seed = 20_240_601;
      const random = seededRandom(seed);
      const real = vectorVersions(
        new URL("../../../test/fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url),
        "deb",
      );
      // Small alphabets so that random versions often share prefixes and hit the interesting rules.
      const gen = (): string => {
        const epoch = random() < 0.2 ? `${Math.floor(random() * 3)}:` : "";
        const upstream = `${Math.floor(random() * 3)}${randomString(random, "0123.~+ab", 0, 5)}`;
        const revision = random() < 0.6 ? `-${randomString(random, "01.~+ab", 1, 4)}` : "";
        return `${epoch}${upstream}${revision}`;
      };
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 300; i++) {
        const a = gen();
        pairs.push([a, random() < 0.3 ? a.replace(/[0-9]$/, "0") : gen()]);
      }
      for (let i = 0; i < 100; i++) pairs.push([pick(random, real), pick(random, real)]);
      const valid = pairs.filter(([a, b]) => debScheme.isValid(a) && debScheme.isValid(b));
      const expected = dpkgOrder(valid);
      const symbol = { [-1]: "<", 0: "=", 1: ">" } as const;
      const got = valid.map(([a, b]) => symbol[debScheme.compare(a, b)]);
      const disagreements = valid.filter((_, i) => got[i] !== expected[i]);
      console.info(
        `deb vs dpkg (seed ${seed}): ${valid.length - disagreements.length}/${valid.length} agree`,
      );
      expect(disagreements).toEqual([]);
      expect(valid.length).toBeGreaterThan(300);
    },
  );

  it.skipIf(!DPKG)("rejects exactly what dpkg rejects as an error or bad syntax", () => {
    const samples = ["1:abc", "a:1.0", "1.0-", "1.0_1", "1.0 1", "1.0", "1:1.0-1", "0.9~rc1-1+b1"];
    for (const v of samples) {
      // dpkg exits 2 for a syntax error, or warns "bad syntax" on stderr and still answers.
      const r = spawnSync("dpkg", ["--compare-versions", v, "eq", "1.0"], { encoding: "utf8" });
      const dpkgRejects = r.status === 2 || /bad syntax|error/.test(r.stderr);
      expect(debScheme.isValid(v), v).toBe(!dpkgRejects);
    }
  });
});

describe("remembered parses", () => {
  it("answers the same for a version asked again, valid or not, and shares a frozen parse", () => {
    const first = parseDebVersion("1:2.3-4");
    expect(parseDebVersion("1:2.3-4")).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    for (let i = 0; i < 2; i++) {
      expect(debScheme.isValid("a1.0")).toBe(false);
      expect(() => debScheme.compare("a1.0", "1.0")).toThrow(ValidationError);
      expect(debScheme.compare("1.0~rc1", "1.0")).toBe(-1);
    }
  });
});
