import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validationErrorOf } from "../../../test/helpers/errors.js";
import { nestedObjects } from "../../../test/helpers/hostile-inputs.js";
import { parseSpdx } from "./spdx.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/data/sbom/spdx/${name}`, import.meta.url), "utf8");

interface RawPackage {
  externalRefs?: { referenceType: string; referenceLocator: string }[];
}

describe("parseSpdx on the fixtures", () => {
  it.each([
    // file, packages, purls (SOURCES.md), distinct purls, ecosystem
    ["flux-0.26.3.golang.spdx-2.2.json", 244, 244, 189, "Go"],
    ["powershell-7.2.1.npm.spdx-2.2.json", 331, 330, 330, "npm"],
  ])("%s", (file, packages, purls, distinct, ecosystem) => {
    const text = fixture(file);
    const raw = JSON.parse(text) as { packages: RawPackage[] };
    const locators = raw.packages.flatMap((p) =>
      (p.externalRefs ?? []).filter((r) => r.referenceType === "purl").map((r) => r.referenceLocator),
    );
    expect(raw.packages).toHaveLength(packages);
    expect(locators).toHaveLength(purls);
    // syft lists a Go module once per place it found it; those collapse to one record.
    expect(new Set(locators).size).toBe(distinct);

    const r = parseSpdx(text, { file });
    expect(r.packages).toHaveLength(distinct);
    expect(r.skipped).toHaveLength(packages - purls);
    expect(new Set(r.packages.map((p) => p.ecosystem))).toEqual(new Set([ecosystem]));
  });

  it("skips the package without a purl and says where it is", () => {
    const r = parseSpdx(fixture("powershell-7.2.1.npm.spdx-2.2.json"), { file: "ps.json" });
    expect(r.skipped).toEqual([{ where: "ps.json#/packages/330", reason: "Coordinated Packages: no purl" }]);
    expect(r.packages.find((p) => p.name === "read-pkg")).toMatchObject({
      ecosystem: "npm",
      version: "1.1.0",
    });
  });

  it("reads the Go versions without their v", () => {
    const r = parseSpdx(fixture("flux-0.26.3.golang.spdx-2.2.json"), {});
    expect(r.packages.find((p) => p.name === "cloud.google.com/go")).toMatchObject({
      version: "0.81.0",
      purl: "pkg:golang/cloud.google.com/go@v0.81.0",
    });
  });

  it("reads deb and cargo purls from the SPDX 2.3 example", () => {
    const r = parseSpdx(fixture("spdx-examples-example11.deb-cargo.spdx-2.3.json"), {});
    expect(r.packages.map((p) => [p.ecosystem, p.name, p.version, p.arch])).toEqual([
      ["Debian", "libselinux1-dev", "3.1-3", "s390x"],
      ["crates.io", "hyper", "0.14", null],
      ["crates.io", "tokio", "1.19.2", null],
      ["crates.io", "pretty_env_logger", "0.4.0", null],
    ]);
  });
});

describe("parseSpdx on small documents", () => {
  const doc = (packages: unknown[], spdxVersion = "SPDX-2.3") => JSON.stringify({ spdxVersion, packages });
  const purlRef = (locator: string, category = "PACKAGE-MANAGER") => ({
    referenceCategory: category,
    referenceType: "purl",
    referenceLocator: locator,
  });

  it("takes purl references of either spelling and ignores the others", () => {
    const r = parseSpdx(
      doc([
        {
          name: "jinja2",
          versionInfo: "3.1.2",
          externalRefs: [
            {
              referenceCategory: "SECURITY",
              referenceType: "cpe23Type",
              referenceLocator: "cpe:2.3:a:x:y:*",
            },
            purlRef("pkg:pypi/Jinja2@3.1.2", "PACKAGE_MANAGER"),
          ],
        },
        { name: "rails", versionInfo: "7.0.4", externalRefs: [purlRef("pkg:gem/rails")] },
        { name: "vendored", versionInfo: "1.0" },
      ]),
      { file: "sbom.spdx.json" },
    );
    expect(r.packages.map((p) => [p.ecosystem, p.name, p.version])).toEqual([
      ["PyPI", "jinja2", "3.1.2"],
      ["RubyGems", "rails", "7.0.4"],
    ]);
    expect(r.skipped).toEqual([{ where: "sbom.spdx.json#/packages/2", reason: "vendored: no purl" }]);
  });

  it("accepts SPDX 2.2 and a document without packages", () => {
    expect(parseSpdx(JSON.stringify({ spdxVersion: "SPDX-2.2" }), {})).toEqual({ packages: [], skipped: [] });
  });

  it.each([
    ["SPDX 3", doc([], "SPDX-3.0"), "s.json#/spdxVersion"],
    [
      "a CycloneDX document",
      JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.4" }),
      "s.json#/spdxVersion",
    ],
    ["a package without a name", doc([{ name: "a" }, { versionInfo: "1" }]), "s.json#/packages/1/name"],
    [
      "a reference without a locator",
      doc([{ name: "a", externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl" }] }]),
      "s.json#/packages/0/externalRefs/0/referenceLocator",
    ],
    [
      "a malformed purl",
      doc([{ name: "a" }, { name: "b", externalRefs: [purlRef("npm/left-pad@1.3.0")] }]),
      "s.json#/packages/1/externalRefs/0/referenceLocator",
    ],
    ["invalid JSON", '{\n  "spdxVersion": "SPDX-2.3",\n  "packages": [,]\n}', "s.json:3:16"],
  ])("rejects %s at %s", (_what, text, where) => {
    expect(validationErrorOf(() => parseSpdx(text, { file: "s.json" })).where).toBe(where);
  });
});

describe("parseSpdx on hostile input", () => {
  it("refuses nesting past the input depth limit and lone surrogates, at their pointer", () => {
    const nested = `{"spdxVersion":"SPDX-2.3","packages":[{"name":"p","annotations":${nestedObjects(5_000)}}]}`;
    const err = validationErrorOf(() => parseSpdx(nested, { file: "s.json" }));
    expect(err.reason).toBe("input.too-deep");
    expect(err.where).toMatch(/^s\.json#\/packages\/0\/annotations(\/a)+$/);
    const lone = '{"spdxVersion":"SPDX-2.3","packages":[{"name":"p\\ud800"}]}';
    expect(validationErrorOf(() => parseSpdx(lone, { file: "s.json" }))).toMatchObject({
      reason: "input.lone-surrogate",
      where: "s.json#/packages/0/name",
    });
  });
});
