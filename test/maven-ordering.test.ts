import { beforeAll, describe, expect, it } from "vitest";
import { pick, seededRandom } from "../src/ecosystems/differential.js";
import { mavenScheme } from "../src/ecosystems/maven/maven-scheme.js";
import { MAVEN_VECTORS_THE_TOOL_CONTRADICTS } from "../src/ecosystems/maven/maven-vector-exceptions.js";
import { readVectorFile } from "../src/ecosystems/vector-file.js";
import { mavenReferenceOrder, type ReferenceRun } from "./helpers/reference-orderings.js";

/**
 * Differential test of src/ecosystems/maven against the real ComparableVersion (Debian's maven-artifact jar, run
 * through javac and java): generated pairs of the shapes real artifacts use, the published test vectors, and
 * hand-picked corners. The jar is the reference; a missing JDK or maven fails the test with an install hint.
 */

const DIR = new URL("./fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url);
const VECTOR_FILES = ["maven-versions.txt", "maven-versions-generated.txt"];

const NUMBERS = ["0", "1", "2", "3", "5", "9", "10", "11", "12", "01", "00", "007", "2023", "20230101"];
const BIG_NUMBERS = ["123456789", "1234567890", "0000000000", "123456789012345678", "1234567890123456789"];
const QUALIFIERS = [
  "sp",
  "ga",
  "final",
  "cr",
  "rc",
  "m",
  "a",
  "b",
  "alpha",
  "beta",
  "milestone",
  "snapshot",
  "release",
  "SNAPSHOT",
  "Final",
  "GA",
  "RC",
  "CR",
  "M",
  "RELEASE",
  "Beta",
  "jre",
  "android",
  "jdk8",
  "dev",
  "pre",
  "preview",
  "incubating",
  "redhat",
  "x",
];
const SUFFIXES = [
  "-SNAPSHOT",
  "-jre",
  "-android",
  ".jre",
  ".android",
  "-jre8",
  "-redhat-00001",
  ".Final",
  ".RELEASE",
  "-GA",
  "-1",
  ".v20230101",
  "-b01",
];

/** One version of a realistic shape: numbers, then qualifiers after ".", "-" or nothing, then a suffix. */
function generate(random: () => number): string {
  const number = () => (random() < 0.05 ? pick(random, BIG_NUMBERS) : pick(random, NUMBERS));
  // Mostly "." between numbers, sometimes "-" (mixed separators).
  const numberSep = () => (random() < 0.85 ? "." : "-");
  let v = number();
  const parts = Math.floor(random() * 4);
  for (let i = 0; i < parts; i++) v += numberSep() + number();
  const qualifiers = random() < 0.6 ? 1 + Math.floor(random() * 2) : 0;
  for (let i = 0; i < qualifiers; i++) {
    v += pick(random, [".", "-", "-", ""]) + pick(random, QUALIFIERS);
    if (random() < 0.5) v += pick(random, ["", "", ".", "-"]) + number();
  }
  if (random() < 0.15) v += pick(random, [".0", "-0", ".0.0", "0"]);
  if (random() < 0.25) v += pick(random, SUFFIXES);
  // Rare separators at odd places: "1..0", "1.-1", "-1", "1-".
  if (random() < 0.04) v = pick(random, ["-", ".", ""]) + v + pick(random, ["", "-", ".", "..1"]);
  return v;
}

/** A close relative of `v`, so that many pairs are equal or differ in one detail. */
function mutate(random: () => number, v: string): string {
  switch (Math.floor(random() * 8)) {
    case 0:
      return v.replace(/[.-]/g, (s) => (random() < 0.3 ? (s === "." ? "-" : ".") : s));
    case 1:
      return random() < 0.5 ? v.toUpperCase() : v.toLowerCase();
    case 2:
      return v + pick(random, [".0", "-0", ".0.0", "-ga", ".final", "-release", "0"]);
    case 3:
      return v.replace(/[.-][^.-]*$/, "");
    case 4:
      return v.replace(/cr|rc|ga|final|alpha|a(?=[0-9])|beta|b(?=[0-9])|m(?=[0-9])|milestone/i, (q) =>
        pick(random, ["rc", "cr", "ga", "final", "", "alpha", "a", "beta", "b", "m", "milestone", q]),
      );
    case 5:
      return v.replace(/[0-9]+/, (n) => String(Math.max(0, Number(n) + pick(random, [-1, 1]))));
    case 6:
      return v.replace(/([0-9])([a-z])/i, (_, d, q) => `${d}${pick(random, [".", "-"])}${q}`);
    default:
      return generate(random);
  }
}

/** Hand-picked corners: `.qualifier` against `-qualifier`, Java's number classes, Unicode digits, odd separators. */
const CORNERS: ReadonlyArray<readonly [string, string]> = [
  ["1.0.RC1", "1.0-RC1"],
  ["1.0.RC1", "1.0"],
  ["1.0.0.X1", "1.0.0-X2"],
  ["1.0.sp", "1.0-sp"],
  ["1.0.jre", "1.0-jre"],
  ["31.1-jre", "31.1-android"],
  ["1.0.beta1", "1.0-beta-1"],
  ["2.0.0.Final", "2.0.0"],
  ["5.2.19.RELEASE", "5.2.20.RELEASE"],
  ["1.0.0000000000.1", "1.0.0.1"],
  ["1.00000000000000000000.1", "1.0000000000.1"],
  ["1.000000001", "1.1"],
  ["1.999999999", "1.1000000000"],
  ["1.999999999999999999", "1.1000000000000000000"],
  ["1.\u0661", "1.1"],
  ["1.\u0660\u0661.x", "1.1.x"],
  ["1.\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660.1", "1.0.1"],
  ["1.\uff12", "1.2"],
  ["1-ga-1", "1-1"],
  ["1.", "1"],
  ["1..1", "1.0.1"],
  ["-1", "0-1"],
  ["1-", "1"],
  ["RC1", "rc-1"],
  // The cycle src/ecosystems/contract.test.ts asserts: ComparableVersion is not a total order.
  ["1", "1-sp"],
  ["1-sp", "1-0-rc1"],
  ["1-0-rc1", "1"],
];

/**
 * Characters for a run of non-ASCII versions: Unicode digits (Java reads them as numbers), letters whose lower case
 * is special (dotted I, sharp s, title-case digraphs, the Kelvin sign, a ligature), supplementary characters and
 * signs that are neither letters nor digits. The Greek capital sigma is left out: Java lower-cases it to final
 * sigma by java.text.BreakIterator's word boundaries, JavaScript by Unicode's Final_Sigma rule, and the two differ
 * (for example "A²Σ~0" is "a²ς~" in Java); the scheme follows JavaScript's lower case for it.
 */
const UNICODE_PIECES = [
  ..."10.-aA\u0130\u0131Ii\u00df\u1e9e\u01c4\u01c5\u01c6\u212aK\ufb03\u00e9\u00c9\u03c3\u03c2_+~\u00b2\u2460",
  ..."\u0661\u0660\uff11\u0966",
  "\u{1d7cf}",
  "\u{1f600}",
  "sp",
  "rc",
  "ga",
  "alpha",
  "SNAPSHOT",
];
const UNICODE_PAIRS = 2000;

/** The pairs, their source (for messages) and the real tool's run, shared by the tests below. */
let pairs: Array<{ a: string; b: string; source: string }> = [];
let reference: ReferenceRun;
const SEED = 3_008_007;
const GENERATED = 6000;

beforeAll(() => {
  const random = seededRandom(SEED);
  for (let i = 0; i < GENERATED; i++) {
    const a = generate(random);
    pairs.push({ a, b: random() < 0.5 ? mutate(random, a) : generate(random), source: `generated #${i}` });
  }
  const unicode = () =>
    Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(random, UNICODE_PIECES)).join("");
  for (let i = 0; i < UNICODE_PAIRS; i++) {
    const a = unicode();
    pairs.push({ a, b: random() < 0.5 ? unicode() : a.toUpperCase(), source: `unicode #${i}` });
  }
  for (const [a, b] of CORNERS) pairs.push({ a, b, source: "corner" });
  for (const file of VECTOR_FILES)
    for (const v of readVectorFile(new URL(file, DIR)))
      pairs.push({ a: v.a, b: v.b, source: `${file}:${v.line}` });
  // Upper-casing can make a capital sigma, which is left out (see UNICODE_PIECES).
  pairs = pairs.filter(
    ({ a, b }) => mavenScheme.isValid(a) && mavenScheme.isValid(b) && !/\u03a3/.test(a + b),
  );
  reference = mavenReferenceOrder(pairs.map(({ a, b }) => [a, b] as const));
}, 180_000);

describe("maven scheme: differential against Maven's ComparableVersion", () => {
  it(`agrees with the real class on ${GENERATED} generated pairs, ${UNICODE_PAIRS} non-ASCII ones, the corners and the published vectors`, () => {
    const symbol = { [-1]: "<", 0: "=", 1: ">" } as const;
    const disagreements: string[] = [];
    pairs.forEach(({ a, b, source }, i) => {
      const want = reference.answers[i];
      const ours = symbol[mavenScheme.compare(a, b)];
      if (want !== undefined && ours !== want.order)
        disagreements.push(
          `${source}: ${JSON.stringify(a)} ${want.order} ${JSON.stringify(b)} ` +
            `(canonical ${want.left} / ${want.right}), ours ${ours}`,
        );
    });
    const generated = pairs.filter((p) => p.source.startsWith("generated")).length;
    const equal = reference.answers.filter((r) => r.order === "=").length;
    console.info(
      `maven vs ${reference.tool} (seed ${SEED}): ${pairs.length - disagreements.length}/${pairs.length} agree ` +
        `(${generated} generated, ${pairs.filter((p) => p.source.startsWith("unicode")).length} non-ASCII, ` +
        `${equal} equal pairs)`,
    );
    expect(disagreements).toEqual([]);
    expect(generated).toBeGreaterThanOrEqual(5000);
    // Enough equal and unequal pairs that both kinds of mistake would show.
    expect(equal).toBeGreaterThan(500);
  });

  it("lists exactly the published vectors that the real class contradicts", () => {
    // ComparableVersion compares any two strings, so it never answers "invalid".
    const ops = { "<": -1, "=": 0, ">": 1, invalid: "invalid" } as const;
    const index = new Map(pairs.map((p, i) => [p.source, i]));
    const contradicted: Array<{ file: string; line: number }> = [];
    for (const file of VECTOR_FILES)
      for (const v of readVectorFile(new URL(file, DIR))) {
        const answer = reference.answers[index.get(`${file}:${v.line}`) ?? -1];
        expect(answer, `${file}:${v.line} was asked`).toBeDefined();
        if (answer !== undefined && ops[answer.order] !== v.expected)
          contradicted.push({ file, line: v.line });
      }
    // Where a published vector and the real class disagree, the class wins; the list says why for each line.
    const listed = MAVEN_VECTORS_THE_TOOL_CONTRADICTS.flatMap(({ file, lines }) =>
      lines.map((line) => ({ file, line })),
    );
    expect(contradicted).toEqual(listed);
  });

  it("reads the maven-artifact version it checks against from the jar", () => {
    expect(reference.tool).toMatch(/^maven-artifact 3\.[0-9]+\.[0-9]+$/);
  });
});
