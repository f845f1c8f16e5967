import { describe, expect, it } from "vitest";
import { dpkgStateIsInstalled } from "../inventory/importers/dpkg-installed.js";
import { dpkgQueryFormat, parseDpkgQueryOutput } from "./dpkg-query.js";

/** Lines as dpkg-query 1.21 prints them for the list format (binary:Package is arch-qualified for M-A: same; the last field is db:Status-Status). */
const OUTPUT = [
  "libssl3:amd64\tlibssl3\t3.0.11-1~deb12u2\tamd64\topenssl\t3.0.11-1~deb12u2\tinstalled",
  "bash\tbash\t5.2.15-2+b2\tamd64\tbash\t5.2.15-2\tinstalled",
  "tzdata\ttzdata\t2024a-0+deb12u1\tall\ttzdata\t2024a-0+deb12u1\tinstalled",
  "oldpkg\toldpkg\t1.0-1\tamd64\toldpkg\t1.0-1\tconfig-files",
  "halfway\thalfway\t1.0-1\tamd64\thalfway\t1.0-1\tunpacked",
  "",
].join("\n");

describe("parseDpkgQueryOutput", () => {
  it("keeps installed packages, sorted, with source and purl", () => {
    expect(parseDpkgQueryOutput(OUTPUT, { ecosystem: "Debian:12", distro: "debian-12" })).toEqual([
      {
        ecosystem: "Debian:12",
        name: "bash",
        version: "5.2.15-2+b2",
        sourceName: "bash",
        sourceVersion: "5.2.15-2",
        arch: "amd64",
        purl: "pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12",
      },
      {
        ecosystem: "Debian:12",
        name: "libssl3",
        version: "3.0.11-1~deb12u2",
        sourceName: "openssl",
        sourceVersion: "3.0.11-1~deb12u2",
        arch: "amd64",
        purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
      },
      {
        ecosystem: "Debian:12",
        name: "tzdata",
        version: "2024a-0+deb12u1",
        sourceName: "tzdata",
        sourceVersion: "2024a-0+deb12u1",
        arch: "all",
        purl: "pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all&distro=debian-12",
      },
    ]);
  });

  it("defaults the ecosystem to Debian and leaves distro out of the purl", () => {
    const [first] = parseDpkgQueryOutput(OUTPUT);
    expect(first?.ecosystem).toBe("Debian");
    expect(first?.purl).toBe("pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64");
  });
});

describe("dpkgStateIsInstalled", () => {
  it.each([
    ["installed", true],
    ["config-files", false],
    ["unpacked", false],
    ["half-installed", false],
    ["half-configured", false],
    ["triggers-awaited", false],
    ["triggers-pending", false],
    ["not-installed", false],
  ])("%j → %s", (state, installed) => {
    expect(dpkgStateIsInstalled(state)).toBe(installed);
  });
});

it("dpkgQueryFormat writes dpkg-query field references and escapes", () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's ${field} syntax is the expected text
  expect(dpkgQueryFormat(["Package", "Version"])).toBe("${Package}\\t${Version}\\n");
});
