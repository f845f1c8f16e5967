import { describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import { MAVEN_VECTORS_THE_TOOL_CONTRADICTS } from "./maven/maven-vector-exceptions.js";
import { SCHEMES } from "./registry.js";
import { readVectorFile, VECTOR_FILES } from "./vector-file.js";

const DIR = new URL("../../test/fixtures/data/testvectors/osv-scalibr-semantic/", import.meta.url);

/**
 * Every published case we do not agree with, by file, scheme and line, with the reason. The test fails when
 * one of these starts agreeing or when any other case disagrees, so this list stays exact.
 */
const KNOWN_DISAGREEMENTS: ReadonlyArray<{ file: string; scheme: string; lines: number[]; reason: string }> =
  [
    {
      file: "semver-versions.txt",
      scheme: "semver",
      lines: [87, 88, 92],
      reason:
        "not npm versions: npm's semver rejects a bare number and 1.1.3.4.5 (not MAJOR.MINOR.PATCH) and numbers " +
        "above 2^53-1; osv-scalibr's lenient parser orders them anyway. We throw ValidationError instead.",
    },
    {
      file: "semver-versions.txt",
      scheme: "go",
      lines: [36, 68, 84, 85, 86, 87, 92],
      reason:
        "not Go module versions: the go command allows no build metadata except +incompatible and needs " +
        "MAJOR.MINOR.PATCH. We throw ValidationError instead.",
    },
    {
      file: "pypi-versions.txt",
      scheme: "pypi",
      lines: [47, 48, 49, 50, 51, 52, 53, 54, 56, 57, 58],
      reason:
        "not PEP 440 versions (0.1-bulbasaur, -class.-jw...): packaging >= 22 raises InvalidVersion (LegacyVersion " +
        "was removed); osv-scalibr orders them with a legacy fallback. We throw ValidationError, as packaging does.",
    },
    {
      file: "pypi-versions-generated.txt",
      scheme: "pypi",
      lines: [
        525, 526, 527, 528, 529, 530, 531, 532, 1994, 4222, 4223, 4909, 4910, 4911, 4912, 4913, 4914, 4915,
        4916, 4917, 4918, 4919, 4920, 4921, 4922, 4923, 4924, 5367, 7249, 7250, 7251, 7252, 7253, 7254, 7255,
        7256, 7257, 7258, 7542, 8716, 9328, 9329, 9330, 9331, 9332, 9333, 9334, 9335, 9336, 9337, 9338, 9339,
        9340, 9341, 9342, 9343, 9344, 9345, 9346, 9347, 9348, 11207, 11234, 11235, 11248, 11424, 11759, 11871,
        11872,
      ],
      reason:
        "one side is not PEP 440 (2013-01-21T20:33:09+0100, 0.7.10p1, 2.0.1rc2-git, ...): packaging >= 22 raises " +
        "InvalidVersion for every one of them (checked with packaging 26). We throw ValidationError, as packaging does.",
    },
    // The real ComparableVersion contradicts these published Maven lines; the scheme follows the real class.
    ...MAVEN_VECTORS_THE_TOOL_CONTRADICTS.map((k) => ({ ...k, scheme: "maven" })),
  ];

describe.each(VECTOR_FILES)("osv-scalibr vectors $file with scheme $scheme", ({ file, scheme: schemeId }) => {
  const scheme = SCHEMES.get(schemeId);
  const vectors = readVectorFile(new URL(file, DIR));
  const known = KNOWN_DISAGREEMENTS.find((k) => k.file === file && k.scheme === schemeId);
  const knownLines = new Set(known?.lines ?? []);

  it("agrees with every case except the listed ones", () => {
    expect(scheme).toBeDefined();
    if (scheme === undefined) return;
    const disagreeing: number[] = [];
    for (const v of vectors) {
      let got: number | string;
      try {
        got = scheme.compare(v.a, v.b);
      } catch (err) {
        // Only a ValidationError is an acceptable way to refuse a case.
        if (!isAppError(err) || err.code !== "validation") throw err;
        got = "invalid";
      }
      if (got !== v.expected) disagreeing.push(v.line);
    }
    const agreed = vectors.length - disagreeing.length;
    console.info(`${file} [${schemeId}]: ${agreed}/${vectors.length} agree`);
    expect(disagreeing).toEqual([...knownLines].sort((x, y) => x - y));
  });

  // Only files with listed disagreements get this test.
  if (knownLines.size > 0)
    it("refuses each listed case with a ValidationError (not a wrong order)", () => {
      for (const v of vectors.filter((x) => knownLines.has(x.line))) {
        if (schemeId === "maven") continue; // the Maven cases are real ordering differences, explained in the list
        expect(() => scheme?.compare(v.a, v.b), `line ${v.line}`).toThrow(/version/);
        expect(scheme?.isValid(v.a) && scheme.isValid(v.b), `line ${v.line}`).toBe(false);
      }
    });
});
