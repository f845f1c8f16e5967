import { describe, expect, it } from "vitest";
import {
  canonicalPackageSet,
  contentKeysDigest,
  packageContentKey,
  packageSetDigest,
} from "./package-set.js";

const SET = canonicalPackageSet([
  {
    ecosystem: "Debian:12",
    name: "openssl",
    version: "3.0.11-1~deb12u2",
    arch: "amd64",
    sourceName: null,
    sourceVersion: null,
    purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
  },
  {
    ecosystem: "Debian:12",
    name: "libssl3",
    version: "3.0.11-1~deb12u2",
    arch: "amd64",
    sourceName: "openssl",
    sourceVersion: null,
    purl: null,
  },
  { ecosystem: "npm", name: "lodash", version: "4.17.21" },
]);

describe("package-set digests", () => {
  // Agents of earlier releases hold digests computed this way: the bytes hashed must never change.
  it.each([
    ["three packages", [...SET.values()], "51677fb9fb5adabd8c3c01f57d23f5771bc0056c3b632cdc8b39d2f8f2799994"],
    ["the empty set", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ])("%s has the digest it always had", (_, packages, digest) => {
    expect(packageSetDigest(packages)).toBe(digest);
  });

  it("the digest of content keys in any order is the set's digest", () => {
    const keys = [...SET.values()].map(packageContentKey);
    expect(contentKeysDigest([...keys].reverse())).toBe(packageSetDigest(SET.values()));
    expect(contentKeysDigest([keys[1] ?? "", keys[2] ?? "", keys[0] ?? ""])).toBe(
      packageSetDigest(SET.values()),
    );
  });
});
