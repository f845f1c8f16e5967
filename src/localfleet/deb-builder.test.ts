import { describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import {
  type BuildSpec,
  controlFile,
  debFileName,
  isDebianVersion,
  validateBuildSpec,
} from "./deb-builder.js";

describe("isDebianVersion", () => {
  it.each([
    "3.0.11-1~deb12u2",
    "1:9.2p1-2+deb12u2",
    "5.2.15-2+b2",
    "1:2.66-4+deb12u2+b2",
    "2.9.14+dfsg-1.3~deb12u1",
    "20230311",
    "2024a-0+deb12u1",
    "1.9.13p3-1+deb12u1",
    "1.0-rc1-2",
    "0",
  ])("accepts %s", (v) => {
    expect(isDebianVersion(v)).toBe(true);
  });

  it.each(["", "a1.0", "1.0_1", "1:", "x:1.0", "1.0-", "1.0-a_b", "1.0 ", "1.0\nSource: x", "-1"])(
    "rejects %j",
    (v) => {
      expect(isDebianVersion(v)).toBe(false);
    },
  );
});

describe("validateBuildSpec", () => {
  it.each<[BuildSpec, string]>([
    [{ name: "Foo", version: "1.0" }, "/name"],
    [{ name: "f", version: "1.0" }, "/name"],
    [{ name: "foo", version: "v1" }, "/version"],
    [{ name: "foo", version: "1.0", arch: "AMD64" }, "/arch"],
    [{ name: "foo", version: "1.0", source: { name: "Bar" } }, "/source/name"],
    [{ name: "foo", version: "1.0", source: { name: "bar", version: "x" } }, "/source/version"],
    [{ name: "foo", version: "1.0", description: "two\nlines" }, "/description"],
    [{ name: "foo", version: "1.0", depends: "bar\nEssential: yes" }, "/depends"],
    [{ name: "foo", version: "1.0", files: { "../etc/passwd": "x" } }, "/files/..~1etc~1passwd"],
    [{ name: "foo", version: "1.0", files: { "/DEBIAN/postinst": "x" } }, "/files/~1DEBIAN~1postinst"],
  ])("%j fails at %s", (spec, where) => {
    let caught: unknown;
    try {
      validateBuildSpec(spec);
    } catch (err) {
      caught = err;
    }
    expect(isAppError(caught) && [caught.code, caught.where]).toEqual(["validation", where]);
  });

  it("accepts a full spec", () => {
    expect(() =>
      validateBuildSpec({
        name: "libssl3",
        version: "3.0.11-1~deb12u2",
        arch: "amd64",
        source: { name: "openssl" },
        depends: "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0",
        files: { "/usr/share/libssl3/VERSION": "3.0.11-1~deb12u2\n" },
      }),
    ).not.toThrow();
  });
});

describe("controlFile", () => {
  it("writes Source with its own version for a binNMU", () => {
    expect(
      controlFile(
        {
          name: "bash",
          version: "5.2.15-2+b2",
          arch: "amd64",
          source: { name: "bash", version: "5.2.15-2" },
          description: "GNU Bourne Again SHell",
        },
        1,
      ),
    ).toBe(
      [
        "Package: bash",
        "Version: 5.2.15-2+b2",
        "Architecture: amd64",
        "Maintainer: autopatch local fleet <autopatch@localhost.invalid>",
        "Installed-Size: 1",
        "Source: bash (5.2.15-2)",
        "Description: GNU Bourne Again SHell",
        " Empty stand-in built by the autopatch local fleet: metadata and a VERSION file only.",
        "",
      ].join("\n"),
    );
  });

  it("writes a bare Source name and defaults arch and description", () => {
    const text = controlFile(
      { name: "libssl3", version: "3.0.11-1~deb12u2", source: { name: "openssl" } },
      3,
    );
    expect(text).toContain("\nArchitecture: all\n");
    expect(text).toContain("\nSource: openssl\n");
    expect(text).toContain("\nDescription: libssl3 stand-in package\n");
  });
});

describe("debFileName", () => {
  it.each([
    [
      { name: "openssh-client", version: "1:9.2p1-2+deb12u2", arch: "amd64" },
      "openssh-client_9.2p1-2+deb12u2_amd64.deb",
    ],
    [{ name: "tzdata", version: "2024a-0+deb12u1" }, "tzdata_2024a-0+deb12u1_all.deb"],
  ])("%j → %s", (spec, name) => {
    expect(debFileName(spec)).toBe(name);
  });
});
