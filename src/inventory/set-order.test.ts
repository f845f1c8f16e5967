import { describe, expect, it } from "vitest";
import { type CanonicalPackage, contentKeysDigest, packageContentKey } from "../domain/package-set.js";
import { PackageDictionary } from "./package-dictionary.js";
import { editOrder, editOrderLines, linesDigest, orderByKey, orderDigest, orderLines } from "./set-order.js";

function pkg(name: string, version: string, purl = ""): CanonicalPackage {
  return {
    ecosystem: "Debian:12",
    name,
    version,
    arch: "amd64",
    sourceName: name,
    sourceVersion: version,
    purl,
  };
}

// Awkward keys: shared prefixes, non-ASCII (UTF-8 bytes differ from code units), astral characters.
const packages = [
  pkg("libc6", "2.36-9"),
  pkg("libc6", "2.36-10"),
  pkg("libc6-dev", "2.36-9"),
  pkg("zlib1g", "1:1.2.13"),
  pkg("émoji-\u{1F600}", "1.0"),
  pkg("\uFF21wide", "1.0"),
  pkg("a", "1", "pkg:deb/debian/a@1"),
  pkg("A", "1"),
];

function session() {
  const dictionary = new PackageDictionary();
  dictionary.learn(packages.map((p, i) => ({ key: packageContentKey(p), id: 100 - i * 7, pkg: p })));
  return dictionary.session();
}

const idsOf = (names: readonly number[]) => names.map((i) => 100 - i * 7);

describe("set order", () => {
  it("digests a set as contentKeysDigest does", () => {
    const s = session();
    for (const picked of [[], [0], [0, 1, 2, 3, 4, 5, 6, 7], [7, 4, 5, 1]]) {
      const ids = idsOf(picked);
      const expected = contentKeysDigest(
        picked.map((i) => packageContentKey(packages[i] as CanonicalPackage)),
      );
      expect(orderDigest(s, orderByKey(s, ids))).toBe(expected);
    }
  });

  it("edits an order into the order of the edited set", () => {
    const s = session();
    const order = orderByKey(s, idsOf([0, 2, 4, 6]));
    const edited = editOrder(s, order, new Set(idsOf([2])), idsOf([7, 1, 5]));
    expect(edited).toEqual(orderByKey(s, idsOf([0, 4, 6, 7, 1, 5])));
    expect(editOrder(s, [], new Set(), idsOf([3, 0]))).toEqual(orderByKey(s, idsOf([3, 0])));
  });

  it("edits an order's lines with it, into the edited set's digest", () => {
    const s = session();
    const order = orderByKey(s, idsOf([0, 2, 4, 6]));
    for (const [removed, added] of [
      [[2], [7, 1, 5]],
      [[], [3]],
      [[0, 6], []],
    ] as const) {
      const edited = editOrderLines(s, order, orderLines(s, order), new Set(idsOf(removed)), idsOf(added));
      expect(edited.ids).toEqual(editOrder(s, order, new Set(idsOf(removed)), idsOf(added)));
      expect(edited.lines).toEqual(orderLines(s, edited.ids));
      expect(linesDigest(edited.lines ?? [])).toBe(orderDigest(s, edited.ids));
    }
  });
});
