import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEBIAN_12_OS_RELEASE,
  distroQualifier,
  isUbuntuLts,
  type OsRelease,
  osReleaseFromFields,
  osvEcosystemFor,
  parseOsRelease,
  readOsRelease,
} from "./os-release.js";

/** os-release files as the distributions ship them. */
const UBUNTU_2204 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
`;
const DEBIAN_TRIXIE_SID = `PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
`;
const UBUNTU_1604 = `NAME="Ubuntu"
VERSION="16.04.7 LTS (Xenial Xerus)"
ID=ubuntu
VERSION_ID="16.04"
UBUNTU_CODENAME=xenial
`;

describe("parseOsRelease", () => {
  it.each<[string, string, OsRelease]>([
    ["debian 12", DEBIAN_12_OS_RELEASE, { id: "debian", versionId: "12", codename: "bookworm" }],
    ["ubuntu 22.04", UBUNTU_2204, { id: "ubuntu", versionId: "22.04", codename: "jammy" }],
    [
      "ubuntu 16.04 (UBUNTU_CODENAME only)",
      UBUNTU_1604,
      { id: "ubuntu", versionId: "16.04", codename: "xenial" },
    ],
    ["debian testing", DEBIAN_TRIXIE_SID, { id: "debian", versionId: null, codename: "trixie" }],
    ["empty", "", { id: "linux", versionId: null, codename: null }],
  ])("%s", (_label, text, expected) => {
    expect(osReleaseFromFields(parseOsRelease(text))).toEqual(expected);
  });

  it("handles quotes, escapes and comments", () => {
    expect(parseOsRelease(`# comment\nA='single $x'\nB="say \\"hi\\" \\$HOME"\nbad line\nC=plain\n`)).toEqual(
      {
        A: "single $x",
        B: 'say "hi" $HOME',
        C: "plain",
      },
    );
  });
});

describe("osvEcosystemFor and distroQualifier", () => {
  it.each<[OsRelease, string, string]>([
    [{ id: "debian", versionId: "12", codename: "bookworm" }, "Debian:12", "debian-12"],
    [{ id: "debian", versionId: "11", codename: "bullseye" }, "Debian:11", "debian-11"],
    [{ id: "ubuntu", versionId: "22.04", codename: "jammy" }, "Ubuntu:22.04:LTS", "ubuntu-22.04"],
    [{ id: "ubuntu", versionId: "23.10", codename: "mantic" }, "Ubuntu:23.10", "ubuntu-23.10"],
    [{ id: "debian", versionId: null, codename: "trixie" }, "Debian", "debian-trixie"],
    [{ id: "linuxmint", versionId: "21.3", codename: "virginia" }, "Debian", "linuxmint-21.3"],
    [{ id: "linux", versionId: null, codename: null }, "Debian", "linux"],
  ])("%j → %s, %s", (os, ecosystem, distro) => {
    expect(osvEcosystemFor(os)).toBe(ecosystem);
    expect(distroQualifier(os)).toBe(distro);
  });

  it.each([
    ["14.04", true],
    ["24.04", true],
    ["23.04", false],
    ["22.10", false],
    ["6.06", true],
  ])("isUbuntuLts(%s) = %s", (v, lts) => {
    expect(isUbuntuLts(v)).toBe(lts);
  });
});

describe("readOsRelease", () => {
  it("prefers etc/os-release, falls back to usr/lib/os-release, and defaults to linux", async () => {
    const root = await mkdtemp(join(tmpdir(), "autopatch-osrel-"));
    try {
      expect(await readOsRelease(root)).toEqual({ id: "linux", versionId: null, codename: null });
      await mkdir(join(root, "usr", "lib"), { recursive: true });
      await writeFile(join(root, "usr", "lib", "os-release"), UBUNTU_2204);
      expect((await readOsRelease(root)).id).toBe("ubuntu");
      await mkdir(join(root, "etc"));
      await writeFile(join(root, "etc", "os-release"), DEBIAN_12_OS_RELEASE);
      expect((await readOsRelease(root)).id).toBe("debian");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
