import { readFileSync } from "node:fs";
import type { Ordering } from "./scheme.js";

/** One published comparison case: `a <op> b` from line `line` of a vector file. */
export interface VersionVector {
  line: number;
  a: string;
  b: string;
  expected: Ordering;
}

const OPS: Record<string, Ordering> = { "<": -1, "=": 0, ">": 1 };

/**
 * Parses osv-scalibr's semantic test-vector format (see test/fixtures/data/SOURCES.md): one `A <op> B` per line,
 * split on single spaces; blank lines and lines starting `# ` or `// ` are comments.
 */
export function parseVectorText(text: string): VersionVector[] {
  const vectors: VersionVector[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === "" || raw.startsWith("# ") || raw.startsWith("// ")) return;
    const parts = raw.split(" ");
    const [a, op, b] = parts;
    const expected = op === undefined ? undefined : OPS[op];
    if (parts.length !== 3 || a === undefined || b === undefined || expected === undefined) {
      throw new Error(`line ${index + 1}: expected "A <op> B", got ${JSON.stringify(raw)}`);
    }
    vectors.push({ line: index + 1, a, b, expected });
  });
  return vectors;
}

/** Reads and parses one vector file. */
export function readVectorFile(url: URL): VersionVector[] {
  return parseVectorText(readFileSync(url, "utf8"));
}

/** The vector files (test/fixtures/data/testvectors/osv-scalibr-semantic/) and the scheme each one exercises. */
export const VECTOR_FILES: ReadonlyArray<{ file: string; scheme: string }> = [
  { file: "debian-versions.txt", scheme: "deb" },
  { file: "debian-versions-generated.txt", scheme: "deb" },
  { file: "redhat-versions.txt", scheme: "rpm" },
  { file: "semver-versions.txt", scheme: "semver" },
  { file: "semver-versions.txt", scheme: "go" },
  { file: "pypi-versions.txt", scheme: "pypi" },
  { file: "pypi-versions-generated.txt", scheme: "pypi" },
  { file: "maven-versions.txt", scheme: "maven" },
  { file: "maven-versions-generated.txt", scheme: "maven" },
];

/** The distinct versions that appear in the vector files of one scheme (valid or not), in file order. */
export function vectorVersions(dir: URL, schemeId: string): string[] {
  const seen = new Set<string>();
  for (const { file, scheme } of VECTOR_FILES) {
    if (scheme !== schemeId) continue;
    for (const v of readVectorFile(new URL(file, dir))) {
      seen.add(v.a);
      seen.add(v.b);
    }
  }
  return [...seen];
}
