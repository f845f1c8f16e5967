import { compare as npmCompare, valid as npmValid } from "semver";
import { describe, expect, it } from "vitest";
import { pick, seededRandom } from "../differential.js";
import { semverScheme } from "./semver-scheme.js";

describe("semver scheme: SemVer 2.0.0 specification", () => {
  // §11 precedence example, in order.
  const SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
  ];
  it.each(SPEC_ORDER.slice(1).map((b, i) => [SPEC_ORDER[i] as string, b]))("%s < %s", (a, b) => {
    expect(semverScheme.compare(a, b)).toBe(-1);
    expect(semverScheme.compare(b, a)).toBe(1);
  });

  // §10: build metadata is ignored for precedence.
  it.each([
    ["1.0.0+20130313144700", "1.0.0"],
    ["1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"],
    ["v1.2.3", "1.2.3"],
  ])("%s = %s", (a, b) => {
    expect(semverScheme.compare(a, b)).toBe(0);
  });

  it.each([
    ["1.2", "not MAJOR.MINOR.PATCH"],
    ["01.2.3", "not MAJOR.MINOR.PATCH"],
    ["1.2.3-01", "not MAJOR.MINOR.PATCH"],
    ["9007199254740992.0.0", "major version is larger than npm's limit"],
  ])("rejects %s", (version, reason) => {
    expect(semverScheme.isValid(version)).toBe(false);
    expect(() => semverScheme.compare(version, "1.0.0")).toThrow(reason);
  });
});

describe("semver scheme: differential against the semver package", () => {
  it("agrees with semver.compare on random versions", () => {
    const seed = 7;
    const random = seededRandom(seed);
    const ids = ["alpha", "beta", "rc", "0", "1", "2", "10", "a1", "x-y", "11"];
    const gen = (): string => {
      const core = [0, 0, 0].map(() => pick(random, [0, 1, 2, 10])).join(".");
      const pre =
        random() < 0.6
          ? `-${Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(random, ids)).join(".")}`
          : "";
      const build = random() < 0.2 ? "+build.5" : "";
      return `${random() < 0.1 ? "v" : ""}${core}${pre}${build}`;
    };
    let agree = 0;
    const total = 5000;
    for (let i = 0; i < total; i++) {
      const a = gen();
      const b = gen();
      expect(semverScheme.isValid(a)).toBe(npmValid(a) !== null);
      if (semverScheme.compare(a, b) === npmCompare(a, b)) agree++;
    }
    console.info(`semver vs semver package (seed ${seed}): ${agree}/${total} agree`);
    expect(agree).toBe(total);
  });
});
