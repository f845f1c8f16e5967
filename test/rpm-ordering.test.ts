import { beforeAll, describe, expect, it } from "vitest";
import { pick, seededRandom } from "../src/ecosystems/differential.js";
import { parseRpmVersion, rpmScheme } from "../src/ecosystems/rpm/rpm-scheme.js";
import { readVectorFile } from "../src/ecosystems/vector-file.js";
import { type ReferenceRun, rpmReferenceOrder } from "./helpers/reference-orderings.js";

/**
 * Differential test of src/ecosystems/rpm against rpm's own code (Debian's python3-rpm: rpm.ver splits an EVR as
 * rpmverParse does, rpm.labelCompare orders it): generated EVRs with epochs, tildes, carets and release parts,
 * the published vectors and hand-picked corners. rpm is the reference; without python3-rpm the test fails with an
 * install hint.
 */

const DIR = new URL("./fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url);
const VECTOR_FILE = "redhat-versions.txt";

const EPOCHS = ["0:", "1:", "2:", "10:", "01:", "00:", ":", "a:", "1a:"];
const SEGMENTS = [
  "0",
  "1",
  "2",
  "3",
  "9",
  "10",
  "01",
  "001",
  "20230101",
  "a",
  "b",
  "z",
  "A",
  "Z",
  "rc",
  "rc1",
];
const WORDS = ["beta", "pre", "git", "el", "fc", "svn", "p", "post", "dev", "alpha", "snap"];
const SEPARATORS = [
  ".",
  ".",
  ".",
  ".",
  "_",
  "+",
  "%",
  "",
  "..",
  ".~",
  "~",
  "~~",
  "^",
  "^^",
  "~^",
  "^~",
  "é",
  "-",
];
const RELEASES = [
  "1",
  "0",
  "2",
  "10",
  "1.el9",
  "1.el9_2",
  "2.el8_10",
  "0.1.rc1.fc38",
  "1.fc38",
  "1~beta",
  "1^20230101git1234567",
  "",
  "3.module+el8.1.0+123+abcdef",
  "1.1",
  "0.20230101git",
  "1.el7.centos",
  "1.noarch",
];

function segment(random: () => number): string {
  return random() < 0.7
    ? pick(random, SEGMENTS)
    : pick(random, WORDS) + (random() < 0.5 ? pick(random, SEGMENTS) : "");
}

/** One EVR: an optional epoch, segments joined by separators (including "~" and "^"), an optional release. */
function generate(random: () => number): string {
  const epoch = random() < 0.35 ? pick(random, EPOCHS) : "";
  let version = segment(random);
  const parts = Math.floor(random() * 4);
  for (let i = 0; i < parts; i++) version += pick(random, SEPARATORS) + segment(random);
  if (random() < 0.15) version += pick(random, ["~", "^", "~rc1", "^git5", ".", "+", "~~"]);
  // Rarely nothing at all before the release: rpm refuses an empty version.
  if (random() < 0.01) version = "";
  const release = random() < 0.7 ? `-${pick(random, RELEASES)}` : "";
  return `${epoch}${version}${release}`;
}

/** A close relative of `v`, so that many pairs are equal or differ in one detail. */
function mutate(random: () => number, v: string): string {
  switch (Math.floor(random() * 9)) {
    case 0:
      return v.replace(/[0-9]+/, (n) => String(Math.max(0, Number(n) + pick(random, [-1, 1]))));
    case 1:
      return v.replace(/(-[^-]*)?$/, (r) => pick(random, ["~rc1", "^git1", "~", "^", ".0", "a"]) + r);
    case 2:
      return v.includes("-") ? v.replace(/-[^-]*$/, pick(random, ["", "-", "-0", "-1", "-1.el9"])) : `${v}-1`;
    case 3:
      return /^[0-9]*:/.test(v) ? v.replace(/^[0-9]*:/, pick(random, ["", "0:", "1:"])) : `0:${v}`;
    case 4:
      return v.replace(/[._+]/, () => pick(random, [".", "_", "+", "", "%", ".."]));
    case 5:
      return v.replace(/[0-9]+/, (n) => `0${n}`);
    case 6:
      return v.replace(/[a-z]+/, (w) => (random() < 0.5 ? w.toUpperCase() : `${w}a`));
    case 7:
      return v.replace(/[0-9]+$/, (n) => `${n}.0`);
    default:
      return generate(random);
  }
}

/** Hand-picked corners: tildes and carets against ends and separators, epochs, empty and missing releases. */
const CORNERS: ReadonlyArray<readonly [string, string]> = [
  ["1.0~rc1", "1.0"],
  ["1.0~rc1-1", "1.0-1"],
  ["1.0^git1", "1.0"],
  ["1.0^git1", "1.0.1"],
  ["1.0^", "1.0"],
  ["1.0~", "1.0"],
  ["1.0~^", "1.0~"],
  ["1.0^~", "1.0^"],
  ["1.0~~", "1.0~"],
  ["1.0.~", "1.0~"],
  ["1.0", "1.0-1"],
  ["1.0", "1.0-"],
  ["1.0-", "1.0-0"],
  ["1.0-1", "1.0-1-"],
  ["0:1.0", "1.0"],
  [":1.0", "1.0"],
  ["00:1.0", "1.0"],
  ["01:1.0", "1:1.0"],
  ["1:1.0", "2.0"],
  ["a:1.0", "1.0"],
  ["1a:1.0", "1.0"],
  ["1:2:3", "1:2"],
  ["1.0é1", "1.0.1"],
  ["1.0", "1.0é"],
  ["2_0", "2.0"],
  ["+", "_"],
  ["10.0001", "10.1"],
  ["1:", "1:0"],
  [":", "0"],
  ["-1", "0-1"],
  ["3.10.0-229.el7", "3.10.0-229.1.2.el7"],
  ["2:8.2.2637-20.el9_1", "2:8.2.2637-21.el9"],
  ["1.2.3-4.module+el8.1.0+123+abc", "1.2.3-4.module+el8.1.0+124+abc"],
];

const pairs: Array<{ a: string; b: string; source: string }> = [];
let reference: ReferenceRun;
const SEED = 4_018_000;
const GENERATED = 6000;

beforeAll(() => {
  const random = seededRandom(SEED);
  // rpm reads any non-empty string; whitespace and control characters never occur in an EVR and we refuse them.
  const sendable = (a: string, b: string) => a !== "" && b !== "" && !/[\s\p{Cc}]/u.test(a + b);
  for (let i = 0; pairs.length < GENERATED; i++) {
    const a = generate(random);
    const b = random() < 0.5 ? mutate(random, a) : generate(random);
    if (sendable(a, b)) pairs.push({ a, b, source: `generated #${i}` });
  }
  for (const [a, b] of CORNERS) pairs.push({ a, b, source: "corner" });
  for (const v of readVectorFile(new URL(VECTOR_FILE, DIR)))
    pairs.push({ a: v.a, b: v.b, source: `${VECTOR_FILE}:${v.line}` });
  reference = rpmReferenceOrder(pairs.map(({ a, b }) => [a, b] as const));
}, 180_000);

describe("rpm scheme: differential against rpm (python3-rpm labelCompare)", () => {
  it(`agrees with rpm on ${GENERATED} generated pairs, the corners and the published vectors`, () => {
    const symbol = { [-1]: "<", 0: "=", 1: ">" } as const;
    const disagreements: string[] = [];
    pairs.forEach(({ a, b, source }, i) => {
      const want = reference.answers[i];
      const ours = rpmScheme.isValid(a) && rpmScheme.isValid(b) ? symbol[rpmScheme.compare(a, b)] : "invalid";
      if (want !== undefined && ours !== want.order)
        disagreements.push(
          `${source}: ${JSON.stringify(a)} ${want.order} ${JSON.stringify(b)} (rpm read ${want.left} / ${want.right}), ours ${ours}`,
        );
    });
    const generated = pairs.filter((p) => p.source.startsWith("generated")).length;
    const count = (order: string) => reference.answers.filter((r) => r.order === order).length;
    console.info(
      `rpm scheme vs ${reference.tool} (seed ${SEED}): ${pairs.length - disagreements.length}/${pairs.length} agree ` +
        `(${generated} generated, ${count("=")} equal, ${count("invalid")} refused by rpm)`,
    );
    expect(disagreements).toEqual([]);
    expect(generated).toBeGreaterThanOrEqual(5000);
    expect(count("=")).toBeGreaterThan(300);
    expect(count("invalid")).toBeGreaterThan(0);
  });

  it("splits epoch, version and release exactly where rpm's rpmverParse does", () => {
    const mismatches: string[] = [];
    pairs.forEach(({ a, b }, i) => {
      const answer = reference.answers[i];
      if (answer === undefined) return;
      for (const [evr, theirs] of [
        [a, answer.left],
        [b, answer.right],
      ] as const) {
        const [e, v, r] = JSON.parse(theirs) as [string | null, string, string | null];
        // An EVR with an empty version part is refused (rpm's labelCompare refuses it too).
        if (!rpmScheme.isValid(evr)) {
          if (v !== "") mismatches.push(`${JSON.stringify(evr)}: rpm ${theirs}, refused by the scheme`);
          continue;
        }
        const ours = parseRpmVersion(evr);
        // rpm keeps "no epoch" apart from "0:" but compares them alike; the scheme reads both as "0".
        if (ours.epoch !== (e ?? "0") || ours.version !== v || ours.release !== (r ?? undefined))
          mismatches.push(`${JSON.stringify(evr)}: rpm ${theirs}, ours ${JSON.stringify(ours)}`);
      }
    });
    expect(mismatches).toEqual([]);
  });

  it("agrees with every published vector (none is contradicted by rpm)", () => {
    const ops = { "<": -1, "=": 0, ">": 1, invalid: "invalid" } as const;
    const index = new Map(pairs.map((p, i) => [p.source, i]));
    const contradicted: number[] = [];
    for (const v of readVectorFile(new URL(VECTOR_FILE, DIR))) {
      const answer = reference.answers[index.get(`${VECTOR_FILE}:${v.line}`) ?? -1];
      expect(answer, `${VECTOR_FILE}:${v.line} was asked`).toBeDefined();
      if (answer !== undefined && ops[answer.order] !== v.expected) contradicted.push(v.line);
    }
    expect(contradicted).toEqual([]);
    expect(reference.tool).toMatch(/^rpm [0-9]+\.[0-9]+/);
  });
});
