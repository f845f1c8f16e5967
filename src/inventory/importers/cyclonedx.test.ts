import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validationErrorOf } from "../../../test/helpers/errors.js";
import { nestedCycloneDx } from "../../../test/helpers/hostile-inputs.js";
import { MAX_COMPONENT_DEPTH, parseCycloneDx } from "./cyclonedx.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/data/sbom/cyclonedx/${name}`, import.meta.url), "utf8");

interface RawComponent {
  purl?: string;
  components?: RawComponent[];
}

/** Components counted straight from the JSON, nested ones included. */
function countComponents(components: RawComponent[] | undefined): number {
  return (components ?? []).reduce((n, c) => n + 1 + countComponents(c.components), 0);
}

describe("parseCycloneDx on the fixtures", () => {
  it.each([
    // file, components (SOURCES.md), distinct packages, ecosystem, a package it must hold
    ["juice-shop-14.1.1.npm.cdx-1.4.json", 1115, 978, "npm", ["@babel/helper-string-parser", "7.19.4"]],
    [
      "dropwizard-1.3.15.maven.cdx-1.2.json",
      167,
      167,
      "Maven",
      ["com.fasterxml.jackson.core:jackson-annotations", "2.9.10"],
    ],
    [
      "proton-bridge-1.8.0.golang.cdx-1.2.json",
      201,
      201,
      "Go",
      ["github.com/0xAX/notificator", "0.0.0-20191016112426-3962a5ea8da1"],
    ],
    ["laravel-7.12.0.composer.cdx-1.4.json", 62, 62, "Packagist", ["asm89/stack-cors", "1.3.0"]],
  ])("%s", (file, components, distinct, ecosystem, [name, version]) => {
    const text = fixture(file);
    const raw = JSON.parse(text) as { components?: RawComponent[] };
    expect(countComponents(raw.components)).toBe(components);
    // Flat npm trees list the same name@version at several paths; those collapse to one record.
    const purls = new Set((raw.components ?? []).map((c) => c.purl?.replace(/[?#].*$/, "")));
    expect(purls.size).toBe(distinct);

    const r = parseCycloneDx(text, { file });
    expect(r.skipped).toEqual([]);
    expect(r.packages).toHaveLength(distinct);
    expect(new Set(r.packages.map((p) => p.ecosystem))).toEqual(new Set([ecosystem]));
    expect(r.packages.every((p) => p.purl?.startsWith("pkg:"))).toBe(true);
    expect(r.packages.find((p) => p.name === name)).toMatchObject({ version });
  });

  it("leaves out the BOM's own subject (metadata.component)", () => {
    const r = parseCycloneDx(fixture("juice-shop-14.1.1.npm.cdx-1.4.json"), {});
    expect(r.packages.find((p) => p.name === "juice-shop")).toBeUndefined();
  });

  it("reads a VEX document without components", () => {
    expect(parseCycloneDx(fixture("vex-cisa-case-2.cdx-1.4.json"), {})).toEqual({
      packages: [],
      skipped: [],
    });
  });
});

describe("parseCycloneDx on small documents", () => {
  const bom = (components: unknown[], specVersion = "1.6") =>
    JSON.stringify({ bomFormat: "CycloneDX", specVersion, components }, null, 2);

  it("walks nested components and reports what it skips", () => {
    const r = parseCycloneDx(
      bom([
        {
          type: "application",
          name: "app",
          components: [
            { type: "library", name: "left-pad", version: "1.3.0", purl: "pkg:npm/left-pad@1.3.0" },
            {
              type: "library",
              name: "inner",
              components: [{ type: "library", name: "Flask", purl: "pkg:pypi/Flask@2.3.2" }],
            },
          ],
        },
        { type: "library", name: "openssl", version: "3.0.2", purl: "pkg:generic/openssl@3.0.2" },
        // The purl names no version: the component's own version is used.
        { type: "library", name: "serde", version: "1.0.188", purl: "pkg:cargo/serde" },
        { type: "library", name: "nothing", purl: "pkg:gem/nothing" },
      ]),
      { file: "bom.json" },
    );
    expect(r.packages.map((p) => [p.ecosystem, p.name, p.version, p.purl])).toEqual([
      ["npm", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0"],
      ["PyPI", "flask", "2.3.2", "pkg:pypi/Flask@2.3.2"],
      ["crates.io", "serde", "1.0.188", "pkg:cargo/serde@1.0.188"],
    ]);
    expect(r.skipped.map((s) => s.where)).toEqual([
      "bom.json#/components/0",
      "bom.json#/components/0/components/1",
      "bom.json#/components/1",
      "bom.json#/components/3",
    ]);
    expect(r.skipped[0]?.reason).toBe("app: no purl");
  });

  it.each(["1.2", "1.3", "1.4", "1.5", "1.6"])("accepts spec version %s", (v) => {
    expect(parseCycloneDx(bom([], v), {}).packages).toEqual([]);
  });

  it.each([
    ["an old spec version", bom([], "1.1"), "bom.json#/specVersion"],
    ["another format", JSON.stringify({ bomFormat: "SPDX", specVersion: "1.4" }), "bom.json#/bomFormat"],
    ["a JSON array", "[]", "bom.json#/"],
    ["a component without a name", bom([{ type: "library", version: "1" }]), "bom.json#/components/0/name"],
    [
      "a nested component with a numeric version",
      bom([{ name: "a", components: [{ name: "b" }, { name: "c", version: 2 }] }]),
      "bom.json#/components/0/components/1/version",
    ],
    [
      "a malformed purl",
      bom([{ name: "a" }, { name: "b", purl: "pkg:maven/no-group@1" }]),
      "bom.json#/components/1/purl",
    ],
  ])("rejects %s at %s", (_what, text, where) => {
    expect(validationErrorOf(() => parseCycloneDx(text, { file: "bom.json" })).where).toBe(where);
  });

  it("points into a real SBOM at the component that is wrong", () => {
    const raw = JSON.parse(fixture("juice-shop-14.1.1.npm.cdx-1.4.json")) as {
      components: Record<string, unknown>[];
    };
    const broken = raw.components[12];
    if (broken) broken.version = 7;
    const err = validationErrorOf(() => parseCycloneDx(JSON.stringify(raw), { file: "juice.json" }));
    expect(err.where).toBe("juice.json#/components/12/version");
    expect(validationErrorOf(() => parseCycloneDx(JSON.stringify(raw), {})).where).toBe(
      "/components/12/version",
    );
  });

  it.each([
    ["a trailing comma", '{\n  "bomFormat": "CycloneDX",\n  "specVersion": "1.4",\n}', "bom.json:4:1"],
    ["a missing value", '{\n  "bomFormat": }', "bom.json:2:16"],
    ["an unclosed string", '{\n  "bomFormat": "Cyclo', "bom.json:2:22"],
    ["empty text", "", "bom.json:1:1"],
    ["trailing text", '{"bomFormat": "CycloneDX"}\n\nx', "bom.json:3:1"],
  ])("reports invalid JSON (%s) at line and column", (_what, text, where) => {
    const err = validationErrorOf(() => parseCycloneDx(text, { file: "bom.json" }));
    expect(err.where).toBe(where);
    expect(err.message).toMatch(/^invalid JSON/);
  });
});

describe("parseCycloneDx on components nested deep", () => {
  it("reads components nested to the limit", () => {
    expect(parseCycloneDx(nestedCycloneDx(MAX_COMPONENT_DEPTH)).packages).toHaveLength(1);
  });

  it("refuses one level more, pointing at the list that is too deep", () => {
    const err = validationErrorOf(() =>
      parseCycloneDx(nestedCycloneDx(MAX_COMPONENT_DEPTH + 1), { file: "b.json" }),
    );
    expect(err.reason).toBe("input.too-deep");
    expect(err.where).toBe(`b.json#${"/components/0".repeat(MAX_COMPONENT_DEPTH)}/components`);
  });

  it("refuses 5,000 levels with a 400, not a stack overflow", () => {
    const err = validationErrorOf(() => parseCycloneDx(nestedCycloneDx(5_000), { file: "b.json" }));
    expect(err.reason).toBe("input.too-deep");
    expect(err.status).toBe(400);
    expect(err.where).toMatch(/^b\.json#(\/components\/0)+/);
  });
});
