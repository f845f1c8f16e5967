import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../domain/errors.js";
import { parseDpkgStatus } from "./dpkg-status.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/data/dpkg/${name}`, import.meta.url), "utf8");

describe("parseDpkgStatus on the Debian 12 image", () => {
  const text = fixture("debian12-bookworm-node-image.status");
  const result = parseDpkgStatus(text, { file: "status", ecosystem: "Debian:12" });

  it("keeps every installed stanza", () => {
    // Counted independently of the parser, as `grep -c` would: stanzas and their Status lines.
    const stanzas = text.split(/\n\s*\n/).filter((s) => /^Package:/m.test(s));
    const installed = stanzas.filter((s) => /^Status: \S+ \S+ installed$/m.test(s));
    expect(stanzas).toHaveLength(719);
    expect(result.packages).toHaveLength(installed.length);
    expect(result.skipped).toEqual([]);
    expect(
      result.packages.every((p) => p.ecosystem === "Debian:12" && p.purl?.startsWith("pkg:deb/debian/")),
    ).toBe(true);
  });

  it.each([
    // name, version, sourceName, sourceVersion, arch
    ["bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64"],
    ["bc", "1.07.1-3+b1", "bc", "1.07.1-3", "amd64"],
    ["bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3", "amd64"],
    // "Source: glibc" without a version: the source version is the binary's.
    ["libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "amd64"],
    ["libssl3", "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2", "amd64"],
    ["adduser", "3.134", null, null, "all"],
  ])("reads %s", (name, version, sourceName, sourceVersion, arch) => {
    const p = result.packages.find((r) => r.name === name);
    expect(p).toMatchObject({ ecosystem: "Debian:12", name, version, sourceName, sourceVersion, arch });
    expect(p?.purl).toContain(`?arch=${arch}&distro=debian-12`);
  });

  it("builds purls with the epoch in the version", () => {
    const p = result.packages.find((r) => r.name === "bsdutils");
    expect(p?.purl).toBe("pkg:deb/debian/bsdutils@1:2.38.1-5+deb12u3?arch=amd64&distro=debian-12");
  });
});

describe("parseDpkgStatus on osv-scalibr test data", () => {
  it("keeps every package whose state is installed, whatever its want or flag", () => {
    const r = parseDpkgStatus(fixture("osv-scalibr-statusfield.status"), { file: "statusfield" });
    // Marked for removal (deinstall, purge) but still on disk: installed, as dpkg-query counts them.
    expect(r.packages.map((p) => p.name)).toEqual([
      "wantinstall_installed",
      "wantdeinstall_installed",
      "wantpurge_installed",
    ]);
    expect(r.skipped.map((s) => s.where)).toEqual([
      "statusfield:9",
      "statusfield:13",
      "statusfield:21",
      "statusfield:25",
    ]);
    expect(r.skipped[3]?.reason).toMatch(/no Status/);
  });

  it("reads the valid file", () => {
    const r = parseDpkgStatus(fixture("osv-scalibr-valid.status"), {});
    expect(r.packages.map((p) => [p.name, p.version, p.sourceName ?? null, p.sourceVersion ?? null])).toEqual(
      [
        ["accountsservice", "22.08.8-6", null, null],
        ["acl", "2.3.1-3", null, null],
        ["adduser", "3.131", null, null],
        ["admin-session", "2023.06.26.c543406313-00", null, null],
        ["attr", "1:2.5.1-4", null, null],
        ["libacl1", "2.3.1-3", "acl", "2.3.1-3"],
        ["util-linux-extra", "2.38.1-5+b1", "util-linux", "2.38.1-5"],
      ],
    );
    expect(r.packages[0]?.purl).toBe("pkg:deb/debian/accountsservice@22.08.8-6?arch=amd64");
  });

  it("reads a transitional package's source", () => {
    const r = parseDpkgStatus(fixture("osv-scalibr-transitional_dummy.status"), { ecosystem: "Debian:9" });
    expect(r.packages).toEqual([
      {
        ecosystem: "Debian:9",
        name: "git-core",
        version: "1:2.14.2-1",
        sourceName: "git",
        sourceVersion: "1:2.14.2-1",
        arch: "all",
        purl: "pkg:deb/debian/git-core@1:2.14.2-1?arch=all&distro=debian-9",
      },
    ]);
  });
});

describe("parseDpkgStatus options and edge cases", () => {
  const one =
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.81.0-1ubuntu1.15\n";

  it("uses the ubuntu namespace and the given distro", () => {
    const r = parseDpkgStatus(one, { ecosystem: "Ubuntu:22.04", distro: "jammy" });
    expect(r.packages[0]).toMatchObject({
      ecosystem: "Ubuntu:22.04",
      purl: "pkg:deb/ubuntu/curl@7.81.0-1ubuntu1.15?arch=amd64&distro=jammy",
    });
  });

  it("defaults to the Debian ecosystem", () => {
    expect(parseDpkgStatus(one, {}).packages[0]?.ecosystem).toBe("Debian");
  });

  it("keeps held packages, reads CRLF files and drops repeated stanzas", () => {
    const held = one.replace("install ok", "hold ok");
    const r = parseDpkgStatus(`${held}\n${held}`.replaceAll("\n", "\r\n"), {});
    expect(r.packages).toHaveLength(1);
    expect(r.packages[0]?.version).toBe("7.81.0-1ubuntu1.15");
  });

  it("treats a whitespace-only line as a paragraph break and joins continuation lines", () => {
    const r = parseDpkgStatus(`${one}Description: a\n more\n\t.\n \t \n${one.replace("curl", "wget")}`, {});
    expect(r.packages.map((p) => p.name)).toEqual(["curl", "wget"]);
  });

  it("refuses an ecosystem dpkg cannot have", () => {
    expect(() => parseDpkgStatus(one, { ecosystem: "npm" })).toThrow(ValidationError);
  });

  it.each([
    ["a line with no colon", `${one}broken line\n`, 5, /no colon/],
    ["a continuation line first", " continued\nPackage: a\n", 1, /continuation line/],
    ["a continuation line after a blank line", `${one}\n\n continued\n`, 7, /continuation line/],
    ["no Package", "Status: install ok installed\nVersion: 1\n", 1, /no Package/],
    ["no Version", "\nPackage: a\nStatus: install ok installed\n", 2, /no Version/],
    ["a two-word Status", "Package: a\nVersion: 1\nStatus: install ok\n", 3, /invalid Status/],
    [
      "an unknown Status flag",
      "Package: a\nVersion: 1\nStatus: install fine installed\n",
      3,
      /invalid Status/,
    ],
    ["an unknown Status state", "Package: a\nVersion: 1\nStatus: install ok gone\n", 3, /invalid Status/],
    [
      "a bad Source",
      "Package: a\nVersion: 1\nStatus: install ok installed\nSource: b (1\n",
      4,
      /invalid Source/,
    ],
    ["a repeated field", "Package: a\nPackage: b\n", 2, /duplicate field "Package" \(first on line 1\)/],
    ["a field name with a space", "Package: a\nBad Field: b\n", 2, /invalid field name/],
  ])("rejects %s with file:line", (_what, text, line, message) => {
    let caught: unknown;
    try {
      parseDpkgStatus(text, { file: "status" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).where).toBe(`status:${line}`);
    expect((caught as ValidationError).message).toMatch(message);
  });

  it("names the input when no file is given", () => {
    expect(() => parseDpkgStatus("nonsense\n", {})).toThrow(
      expect.objectContaining({ where: "<input>:1" }) as unknown as Error,
    );
  });
});

describe("parseDpkgStatus release check", () => {
  const text = fixture("osv-scalibr-valid.status");

  it.each(["Debian:99", "Ubuntu:24.10:LTS", "Debian:bookworm"])(
    "refuses %s, a release the distribution does not have",
    (ecosystem) => {
      let caught: unknown;
      try {
        parseDpkgStatus(text, { ecosystem });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect(caught).toMatchObject({ reason: "inventory.unknown-release", where: "ecosystem" });
    },
  );

  it.each(["Debian", "Debian:12", "Ubuntu:22.04", "Ubuntu:22.04:LTS"])("takes %s", (ecosystem) => {
    expect(parseDpkgStatus(text, { ecosystem }).packages.length).toBeGreaterThan(0);
  });
});
