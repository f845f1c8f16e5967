import { describe, expect, it } from "vitest";
import { type CanonicalPackage, packageContentKey } from "../domain/package-set.js";
import { seededRandom } from "../ecosystems/differential.js";
import { additionsInKeyOrder, classifyChanges, toRow } from "./report.js";

function pkg(ecosystem: string, name: string, arch: string, version: string): CanonicalPackage {
  return { ecosystem, name, version, arch, sourceName: name, sourceVersion: version, purl: "" };
}

/** The ids in content-key order, as set-order.ts sorts them. */
function keyOrder(set: readonly CanonicalPackage[]): number[] {
  return set
    .map((p, id) => ({ id, key: packageContentKey(p) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((k) => k.id);
}

// Shared prefixes, an empty arch, non-ASCII, and names that differ only past a prefix.
const NAMES = ["lib", "lib2", "lib-dev", "libc6", "a", "A", "émoji-\u{1F600}", "\uFF21wide", "z"];
const ARCHES = ["", "amd64", "all", "arm64"];
const ECOSYSTEMS = ["Debian:12", "Debian", "npm"];

describe("a first report's changes", () => {
  it("are classifyChanges' answer, in its order", () => {
    const random = seededRandom(5);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
    for (let round = 0; round < 300; round++) {
      const byIdentity = new Map<string, CanonicalPackage>();
      const size = 1 + Math.floor(random() * 30);
      for (let i = 0; i < size; i++) {
        const p = pkg(pick(ECOSYSTEMS), pick(NAMES), pick(ARCHES), `1.${Math.floor(random() * 5)}`);
        byIdentity.set(`${p.ecosystem}/${p.name}/${p.arch}`, p);
      }
      const set = [...byIdentity.values()];
      const fast = additionsInKeyOrder(keyOrder(set), (id) => set[id] as CanonicalPackage);
      expect(fast).toEqual(
        classifyChanges(
          [],
          set.map((p) => toRow("a", p)),
        ),
      );
    }
  });

  it("leave the order to classifyChanges when key order may not be identity order", () => {
    // Two versions of one package: classifyChanges keeps them as given, key order sorts them.
    const twice = [pkg("Debian", "x", "amd64", "2"), pkg("Debian", "x", "amd64", "1")];
    expect(additionsInKeyOrder(keyOrder(twice), (id) => twice[id] as CanonicalPackage)).toBeUndefined();
    // A name holding the keys' separator: identity order and key order can differ.
    const separated = [pkg("npm", "a", "", "9"), pkg("npm", "a\u0000", "", "1")];
    expect(
      additionsInKeyOrder(keyOrder(separated), (id) => separated[id] as CanonicalPackage),
    ).toBeUndefined();
  });
});
