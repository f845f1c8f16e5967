import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { pick, seededRandom, toolWorks } from "../differential.js";
import { vectorVersions } from "../vector-file.js";
import { pypiScheme } from "./pypi-scheme.js";

describe("pypi scheme: PEP 440", () => {
  // PEP 440 "Summary of permitted suffixes and relative ordering" example, in order.
  const PEP_ORDER = [
    "1.dev0",
    "1.0.dev456",
    "1.0a1",
    "1.0a2.dev456",
    "1.0a12.dev456",
    "1.0a12",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0rc1.dev456",
    "1.0rc1",
    "1.0",
    "1.0+abc.5",
    "1.0+abc.7",
    "1.0+5",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.15",
    "1.1.dev1",
  ];
  it.each(PEP_ORDER.slice(1).map((b, i) => [PEP_ORDER[i] as string, b]))("%s < %s", (a, b) => {
    expect(pypiScheme.compare(a, b)).toBe(-1);
    expect(pypiScheme.compare(b, a)).toBe(1);
  });

  // PEP 440 normalisation rules: these spellings are the same version.
  it.each([
    ["1.0a", "1.0a0"],
    ["1.0alpha1", "1.0a1"],
    ["1.0.c1", "1.0rc1"],
    ["1.0-1", "1.0.post1"],
    ["1.0-r4", "1.0.post4"],
    ["1.0RC1", "1.0rc1"],
    ["v1.0", "1.0"],
    ["1.0.0", "1"],
    ["0!1.0", "1.0"],
    ["1.0+ubuntu-1", "1.0+ubuntu.1"],
    [" 1.0\n", "1.0"],
  ])("%j = %j", (a, b) => {
    expect(pypiScheme.compare(a, b)).toBe(0);
  });

  it.each([
    ["1!1.0", "2.0", 1],
    // packaging compares a local segment as a number only when it is all digits: "1e3" is a string.
    ["1.0+1e3", "1.0+999", -1],
    ["1.0+0x1", "1.0+0", -1],
    ["1.0+abc", "1.0+ABC", 0],
  ] as const)("%s vs %s → %i", (a, b, expected) => {
    expect(pypiScheme.compare(a, b)).toBe(expected);
  });

  it.each(["0.1-bulbasaur", "1.0.x", "", "1.0+", "1..0"])("rejects %j", (version) => {
    expect(pypiScheme.isValid(version)).toBe(false);
    expect(() => pypiScheme.compare(version, "1.0")).toThrow(/^PyPI version /);
  });
});

const PACKAGING = toolWorks("python3", ["-c", "import packaging.version"]);
const PACKAGING_MISSING =
  "requires python3-packaging: apt-get install python3-packaging (or pip install packaging)";
if (!PACKAGING) console.warn(`pypi differential test skipped: ${PACKAGING_MISSING}`);

// Reads "a\tb" lines and prints "<", "=", ">" or "invalid" per line, with packaging.version.Version.
const PY = `
import sys
from packaging.version import Version, InvalidVersion
out = []
for line in sys.stdin.read().split("\\n"):
    if not line:
        continue
    a, b = line.split("\\t")
    try:
        x, y = Version(a), Version(b)
        out.append("<" if x < y else ">" if x > y else "=")
    except InvalidVersion:
        out.append("invalid")
print("\\n".join(out))
`;

describe("pypi scheme: differential against Python's packaging", () => {
  it.skipIf(!PACKAGING)(
    `${PACKAGING ? "" : `[skipped: ${PACKAGING_MISSING}] `}agrees with packaging.version on random and real versions`,
    () => {
      const seed = 440;
      const random = seededRandom(seed);
      const real = vectorVersions(
        new URL("../../../test/fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url),
        "pypi",
      );
      const gen = (): string => {
        const epoch = random() < 0.1 ? "1!" : "";
        const release = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          pick(random, ["0", "1", "2", "10", "01"]),
        ).join(".");
        const pre =
          random() < 0.4
            ? `${pick(random, ["a", "b", "rc", "c", "alpha", "-beta", ".pre", "preview"])}${pick(random, ["", "0", "1", "2"])}`
            : "";
        const post = random() < 0.25 ? pick(random, [".post1", "-1", ".post", "post2", ".r3", "-rev4"]) : "";
        const dev = random() < 0.25 ? pick(random, [".dev0", ".dev", "dev3", "-dev1"]) : "";
        const local =
          random() < 0.2 ? `+${pick(random, ["abc", "1", "1e3", "ubuntu-1", "0x1", "abc.5", "5.abc"])}` : "";
        const junk = random() < 0.05 ? pick(random, ["x", ".", "-", "+"]) : "";
        return `${random() < 0.05 ? "v" : ""}${epoch}${release}${pre}${post}${dev}${local}${junk}`;
      };
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 4000; i++) pairs.push([gen(), gen()]);
      for (let i = 0; i < 1000; i++) pairs.push([pick(random, real), pick(random, real)]);
      const result = spawnSync("python3", ["-c", PY], {
        input: pairs.map(([a, b]) => `${a}\t${b}`).join("\n"),
        encoding: "utf8",
        maxBuffer: 1 << 24,
      });
      const expected = result.stdout.trim().split("\n");
      expect(expected).toHaveLength(pairs.length);
      const symbol = { [-1]: "<", 0: "=", 1: ">" } as const;
      const disagreements: string[] = [];
      pairs.forEach(([a, b], i) => {
        const ours =
          pypiScheme.isValid(a) && pypiScheme.isValid(b) ? symbol[pypiScheme.compare(a, b)] : "invalid";
        if (ours !== expected[i]) disagreements.push(`${a} ${b}: packaging ${expected[i]}, ours ${ours}`);
      });
      console.info(
        `pypi vs packaging (seed ${seed}): ${pairs.length - disagreements.length}/${pairs.length} agree`,
      );
      expect(disagreements).toEqual([]);
    },
  );
});
