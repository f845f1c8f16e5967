import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../domain/errors.js";
import { purlToPackage, splitEcosystem } from "../purl.js";
import {
  detectInventoryFormat,
  INVENTORY_FORMATS,
  INVENTORY_IMPORTERS,
  type InventoryFormat,
  parseInventory,
} from "./index.js";

const data = (path: string) =>
  readFileSync(new URL(`../../../test/fixtures/data/${path}`, import.meta.url), "utf8");

const FIXTURES: [string, InventoryFormat][] = [
  ["dpkg/debian12-bookworm-node-image.status", "dpkg"],
  ["dpkg/osv-scalibr-valid.status", "dpkg"],
  ["dpkg/osv-scalibr-statusfield.status", "dpkg"],
  ["dpkg/osv-scalibr-transitional_dummy.status", "dpkg"],
  ["sbom/cyclonedx/juice-shop-14.1.1.npm.cdx-1.4.json", "cyclonedx"],
  ["sbom/cyclonedx/dropwizard-1.3.15.maven.cdx-1.2.json", "cyclonedx"],
  ["sbom/cyclonedx/proton-bridge-1.8.0.golang.cdx-1.2.json", "cyclonedx"],
  ["sbom/cyclonedx/laravel-7.12.0.composer.cdx-1.4.json", "cyclonedx"],
  ["sbom/cyclonedx/vex-cisa-case-2.cdx-1.4.json", "cyclonedx"],
  ["sbom/spdx/flux-0.26.3.golang.spdx-2.2.json", "spdx"],
  ["sbom/spdx/powershell-7.2.1.npm.spdx-2.2.json", "spdx"],
  ["sbom/spdx/spdx-examples-example11.deb-cargo.spdx-2.3.json", "spdx"],
];

describe("detectInventoryFormat", () => {
  it.each(FIXTURES)("tells %s is %s from its content alone", (path, format) => {
    expect(detectInventoryFormat(data(path))).toBe(format);
    expect(detectInventoryFormat(data(path), "upload.bin")).toBe(format);
  });

  it.each([
    ["bom.json", "cyclonedx"],
    ["app.cdx.json", "cyclonedx"],
    ["app.spdx.json", "spdx"],
    ["var/lib/dpkg/status", "dpkg"],
    ["host-1.status", "dpkg"],
  ])("falls back to the file name %s", (name, format) => {
    expect(detectInventoryFormat("", name)).toBe(format);
  });

  it("refuses text it cannot place", () => {
    expect(() => detectInventoryFormat("hello", "notes.txt")).toThrow(ValidationError);
    expect(() => detectInventoryFormat("{}")).toThrow(
      expect.objectContaining({ where: "<input>" }) as unknown as Error,
    );
  });
});

describe("parseInventory", () => {
  it("detects the format and passes the dpkg options on", () => {
    const r = parseInventory(data("dpkg/osv-scalibr-valid.status"), {
      ecosystem: "Debian:12",
      file: "status",
    });
    expect(r.packages[0]).toMatchObject({ ecosystem: "Debian:12", name: "accountsservice" });
  });

  it("takes a format it is told", () => {
    expect(() =>
      parseInventory(data("dpkg/osv-scalibr-valid.status"), { format: "spdx", file: "x" }),
    ).toThrow(expect.objectContaining({ where: "x:1:1" }) as unknown as Error);
  });
});

// Contract over every registered importer: one sample in its format each.
const SAMPLES: Record<InventoryFormat, string> = {
  dpkg: "dpkg/debian12-bookworm-node-image.status",
  cyclonedx: "sbom/cyclonedx/juice-shop-14.1.1.npm.cdx-1.4.json",
  spdx: "sbom/spdx/spdx-examples-example11.deb-cargo.spdx-2.3.json",
};

describe("inventory importer contract", () => {
  it("has one importer per format", () => {
    expect(INVENTORY_IMPORTERS.map((i) => i.format).sort()).toEqual([...INVENTORY_FORMATS].sort());
  });

  describe.each(INVENTORY_IMPORTERS.map((i) => [i.format, i] as const))("%s", (format, importer) => {
    const text = data(SAMPLES[format]);

    it("recognises its own sample and only its own", () => {
      for (const other of INVENTORY_IMPORTERS) expect(other.sniff(text)).toBe(other === importer);
    });

    it("returns records whose purl maps back to them, each once", () => {
      const r = importer.parse(text, { file: "sample" });
      expect(r.packages.length).toBeGreaterThan(0);
      const keys = new Set<string>();
      for (const p of r.packages) {
        expect(p.purl).toBeTruthy();
        const back = purlToPackage(p.purl ?? "");
        expect(back?.name).toBe(p.name);
        expect(back?.version).toBe(p.version);
        expect(back && splitEcosystem(back.ecosystem).base).toBe(splitEcosystem(p.ecosystem).base);
        keys.add(JSON.stringify([p.ecosystem, p.name, p.version, p.arch ?? null]));
      }
      expect(keys.size).toBe(r.packages.length);
    });

    it("is deterministic", () => {
      expect(importer.parse(text, {})).toEqual(importer.parse(text, {}));
    });

    it("rejects garbage with a ValidationError that says where", () => {
      let caught: unknown;
      try {
        importer.parse("this is not an inventory\n", { file: "junk" });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).where).toMatch(/^junk[:#]/);
    });
  });
});
