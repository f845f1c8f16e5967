import { describe, expect, it } from "vitest";
import { ValidationError } from "../domain/errors.js";
import { normalizePypiName } from "../ecosystems/pypi/pypi-name.js";
import { type PackageToPurlInput, packageToPurl, purlToDetails, purlToPackage } from "./purl.js";

describe("purlToPackage", () => {
  // Purls marked "fixture" are copied from the SBOMs in test/fixtures/data/sbom/.
  it.each([
    // fixture: spdx-examples example11
    ["pkg:deb/debian/libselinux1-dev@3.1-3?arch=s390x", "Debian", "libselinux1-dev", "3.1-3"],
    [
      "pkg:deb/debian/curl@7.88.1-10+deb12u5?arch=amd64&distro=debian-12",
      "Debian:12",
      "curl",
      "7.88.1-10+deb12u5",
    ],
    ["pkg:deb/debian/curl@7.88.1-10?distro=debian-12.5", "Debian:12", "curl", "7.88.1-10"],
    ["pkg:deb/debian/curl@7.64.0-4?distro=buster", "Debian:10", "curl", "7.64.0-4"],
    ["pkg:deb/debian/curl@7.74.0-1.3?distro=bullseye", "Debian:11", "curl", "7.74.0-1.3"],
    ["pkg:deb/debian/curl@7.88.1-10?distro=bookworm", "Debian:12", "curl", "7.88.1-10"],
    ["pkg:deb/debian/curl@8.14.1-2?distro=trixie", "Debian:13", "curl", "8.14.1-2"],
    ["pkg:deb/debian/curl@7.88.1-10?distro=debian-bookworm", "Debian:12", "curl", "7.88.1-10"],
    ["pkg:deb/debian/git@1:2.39.2-1.1", "Debian", "git", "1:2.39.2-1.1"],
    ["pkg:deb/debian/git@2.39.2-1.1?epoch=1", "Debian", "git", "1:2.39.2-1.1"],
    [
      "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?distro=ubuntu-22.04",
      "Ubuntu:22.04",
      "openssl",
      "3.0.2-0ubuntu1.10",
    ],
    ["pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?distro=jammy", "Ubuntu:22.04", "openssl", "3.0.2-0ubuntu1.10"],
    ["pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10", "Ubuntu", "openssl", "3.0.2-0ubuntu1.10"],
    [
      "pkg:rpm/almalinux/bash@5.1.8-6.el9_1?arch=x86_64&distro=almalinux-9",
      "AlmaLinux:9",
      "bash",
      "5.1.8-6.el9_1",
    ],
    [
      "pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&distro=almalinux-9.4",
      "AlmaLinux:9",
      "openssl",
      "1:3.0.7-27.el9",
    ],
    ["pkg:rpm/almalinux/bash@5.1.8-6.el9?epoch=0", "AlmaLinux", "bash", "5.1.8-6.el9"],
    ["pkg:rpm/rocky-linux/bash@5.1.8-9.el9?distro=rocky-9.3", "Rocky Linux:9", "bash", "5.1.8-9.el9"],
    ["pkg:rpm/rocky/bash@4.4.20-4.el8?distro=rocky-8", "Rocky Linux:8", "bash", "4.4.20-4.el8"],
    // Red Hat scopes by CPE product stream, which a distro qualifier cannot say.
    [
      "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&distro=rhel-9",
      "Red Hat",
      "openssl",
      "1:3.0.7-27.el9",
    ],
    [
      "pkg:rpm/suse/curl@8.0.1-150400.5.41.1?distro=sles-15.5",
      "SUSE:Linux Enterprise Server 15 SP5",
      "curl",
      "8.0.1-150400.5.41.1",
    ],
    ["pkg:rpm/opensuse/curl@8.0.1-1.1?distro=opensuse-leap-15.5", "openSUSE:Leap 15.5", "curl", "8.0.1-1.1"],
    [
      "pkg:rpm/opensuse/curl@8.9.1-1.1?distro=opensuse-tumbleweed",
      "openSUSE:Tumbleweed",
      "curl",
      "8.9.1-1.1",
    ],
    ["pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4", "Alpine:v3.18", "musl", "1.2.4-r2"],
    ["pkg:pypi/Foo_Bar@1.0", "PyPI", "foo-bar", "1.0"],
    ["pkg:pypi/zope.interface@6.0", "PyPI", "zope-interface", "6.0"],
    ["pkg:pypi/Django@4.2.1", "PyPI", "django", "4.2.1"],
    ["pkg:npm/%40scope/name@1.0.0", "npm", "@scope/name", "1.0.0"],
    // fixture: juice-shop
    [
      "pkg:npm/%40babel/helper-string-parser@7.19.4#packages/babel-helper-string-parser",
      "npm",
      "@babel/helper-string-parser",
      "7.19.4",
    ],
    // fixture: powershell
    ["pkg:npm/read-pkg@1.1.0", "npm", "read-pkg", "1.1.0"],
    // Legacy npm names keep their capitals: "JSONStream" and "jsonstream" are different packages.
    ["pkg:npm/JSONStream@1.3.5", "npm", "JSONStream", "1.3.5"],
    // fixture: dropwizard
    [
      "pkg:maven/com.fasterxml.jackson.core/jackson-annotations@2.9.10?type=jar",
      "Maven",
      "com.fasterxml.jackson.core:jackson-annotations",
      "2.9.10",
    ],
    // fixture: proton-bridge
    [
      "pkg:golang/github.com/0xAX/notificator@v0.0.0-20191016112426-3962a5ea8da1",
      "Go",
      "github.com/0xAX/notificator",
      "0.0.0-20191016112426-3962a5ea8da1",
    ],
    // fixture: flux
    ["pkg:golang/cloud.google.com/go@v0.81.0", "Go", "cloud.google.com/go", "0.81.0"],
    ["pkg:golang/github.com/foo/bar@v1.2.3", "Go", "github.com/foo/bar", "1.2.3"],
    [
      "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible",
      "Go",
      "github.com/Azure/go-autorest",
      "14.2.0+incompatible",
    ],
    // fixture: example11
    ["pkg:cargo/tokio@1.19.2", "crates.io", "tokio", "1.19.2"],
    ["pkg:cargo/pretty_env_logger@0.4.0", "crates.io", "pretty_env_logger", "0.4.0"],
    // fixture: laravel
    ["pkg:composer/asm89/stack-cors@1.3.0", "Packagist", "asm89/stack-cors", "1.3.0"],
    ["pkg:gem/rails@7.0.4", "RubyGems", "rails", "7.0.4"],
    ["pkg:nuget/Newtonsoft.Json@13.0.1", "NuGet", "Newtonsoft.Json", "13.0.1"],
    ["pkg:hex/phoenix@1.7.0", "Hex", "phoenix", "1.7.0"],
    ["pkg:pub/http@1.1.0", "Pub", "http", "1.1.0"],
    ["pkg:npm/lodash", "npm", "lodash", null],
  ])("%s → %s %s %s", (purl, ecosystem, name, version) => {
    expect(purlToPackage(purl)).toEqual({ ecosystem, name, version });
  });

  it.each([
    "pkg:generic/openssl@1.1.1",
    "pkg:docker/library/nginx@1.25",
    "pkg:deb/raspbian/curl@7.88.1-10",
    "pkg:rpm/fedora/bash@5.2.15-3.fc38",
  ])("returns null for %s (no OSV ecosystem)", (purl) => {
    expect(purlToPackage(purl)).toBeNull();
  });

  it.each([
    "notapurl",
    "pkg:",
    "pkg:npm/",
    "pkg:maven/artifact-without-group@1.0",
    "pkg:golang/github.com/a/b@vfoo",
  ])("rejects %j with ValidationError", (purl) => {
    expect(() => purlToPackage(purl)).toThrow(ValidationError);
  });

  it("reads arch and the Debian source package from qualifiers", () => {
    expect(
      purlToDetails("pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc&distro=debian-12"),
    ).toMatchObject({
      ecosystem: "Debian:12",
      arch: "amd64",
      sourceName: "glibc",
      sourceVersion: null,
    });
    expect(purlToDetails("pkg:deb/debian/bsdutils@1:2.38.1-5?upstream=util-linux%402.38.1-5")).toMatchObject({
      sourceName: "util-linux",
      sourceVersion: "2.38.1-5",
    });
  });
});

describe("normalizePypiName", () => {
  it.each([
    ["Foo_Bar", "foo-bar"],
    ["a__b--c..d", "a-b-c-d"],
    ["Friendly-Bard", "friendly-bard"],
    ["FRIENDLY.BARD", "friendly-bard"],
  ])("%s → %s", (name, expected) => {
    expect(normalizePypiName(name)).toBe(expected);
  });
});

describe("packageToPurl", () => {
  it.each<[PackageToPurlInput, string]>([
    [
      { ecosystem: "Debian:12", name: "libc6", version: "2.36-9+deb12u4", arch: "amd64" },
      "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12",
    ],
    [
      { ecosystem: "Debian", name: "libc6", version: "2.36-9", arch: "amd64", distro: "bookworm" },
      "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=bookworm",
    ],
    [{ ecosystem: "Debian", name: "git", version: "1:2.39.2-1.1" }, "pkg:deb/debian/git@1:2.39.2-1.1"],
    [
      { ecosystem: "Ubuntu:22.04", name: "openssl", version: "3.0.2-0ubuntu1.10" },
      "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?distro=ubuntu-22.04",
    ],
    [
      { ecosystem: "AlmaLinux:9", name: "openssl", version: "1:3.0.7-27.el9", arch: "x86_64" },
      "pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&distro=almalinux-9&epoch=1",
    ],
    [
      { ecosystem: "Rocky Linux:8", name: "bash", version: "4.4.20-4.el8" },
      "pkg:rpm/rocky-linux/bash@4.4.20-4.el8?distro=rocky-8",
    ],
    [{ ecosystem: "PyPI", name: "Foo_Bar", version: "1.0" }, "pkg:pypi/foo-bar@1.0"],
    [{ ecosystem: "npm", name: "@babel/core", version: "7.0.0" }, "pkg:npm/%40babel/core@7.0.0"],
    [{ ecosystem: "npm", name: "lodash", version: null }, "pkg:npm/lodash"],
    [
      { ecosystem: "Maven", name: "com.fasterxml.jackson.core:jackson-databind", version: "2.9.10" },
      "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.10",
    ],
    [
      { ecosystem: "Go", name: "github.com/foo/bar", version: "1.2.3" },
      "pkg:golang/github.com/foo/bar@v1.2.3",
    ],
    [{ ecosystem: "crates.io", name: "tokio", version: "1.19.2" }, "pkg:cargo/tokio@1.19.2"],
    [
      { ecosystem: "Packagist", name: "asm89/stack-cors", version: "1.3.0" },
      "pkg:composer/asm89/stack-cors@1.3.0",
    ],
    [{ ecosystem: "RubyGems", name: "rails", version: "7.0.4" }, "pkg:gem/rails@7.0.4"],
    [{ ecosystem: "NuGet", name: "Newtonsoft.Json", version: "13.0.1" }, "pkg:nuget/Newtonsoft.Json@13.0.1"],
  ])("%j → %s, and back", (record, purl) => {
    expect(packageToPurl(record)).toBe(purl);
    const back = purlToPackage(purl);
    expect(back?.ecosystem).toBe(record.distro ? "Debian:12" : record.ecosystem);
    expect(back?.version).toBe(record.version);
  });

  it.each([
    { ecosystem: "Maven", name: "no-group", version: "1.0" },
    { ecosystem: "Linux", name: "kernel", version: "6.1" },
  ])("rejects %j", (record) => {
    expect(() => packageToPurl(record)).toThrow(ValidationError);
  });
});
