import { ValidationError } from "../domain/errors.js";
import type { BuildSpec } from "./deb-builder.js";

/**
 * Demo packages of a Debian 12 (bookworm) amd64 fleet. Every version below was published for bookworm
 * (release, point release or bookworm-security), checked against the packages' Debian changelogs and
 * the bookworm archive. The .debs built from them are empty stand-ins: real names, versions, sources
 * and architectures, but only a VERSION file as content.
 */
interface Family {
  /** Debian source package. */
  source: string;
  binaries: ReadonlyArray<{ name: string; arch: "amd64" | "all"; description: string }>;
  /**
   * Versions oldest first; the last one is the "fixed" one a patch run moves to. `sourceVersion` is set
   * for binNMUs, whose binaries carry a "+bN" suffix the source version does not have.
   */
  releases: ReadonlyArray<{ version: string; sourceVersion?: string }>;
  /** Installed only on some hosts: "web" on even hosts, "dev" on every third host. */
  role?: "web" | "dev";
}

const FAMILIES: readonly Family[] = [
  {
    source: "openssl",
    binaries: [
      { name: "openssl", arch: "amd64", description: "Secure Sockets Layer toolkit - cryptographic utility" },
      { name: "libssl3", arch: "amd64", description: "Secure Sockets Layer toolkit - shared libraries" },
    ],
    releases: [
      { version: "3.0.11-1~deb12u2" },
      { version: "3.0.15-1~deb12u1" },
      { version: "3.0.19-1~deb12u2" },
    ],
  },
  {
    source: "curl",
    binaries: [
      { name: "curl", arch: "amd64", description: "command line tool for transferring data with URL syntax" },
      {
        name: "libcurl4",
        arch: "amd64",
        description: "easy-to-use client-side URL transfer library (OpenSSL flavour)",
      },
    ],
    releases: [
      { version: "7.88.1-10+deb12u5" },
      { version: "7.88.1-10+deb12u8" },
      { version: "7.88.1-10+deb12u14" },
    ],
  },
  {
    source: "openssh",
    binaries: [
      {
        name: "openssh-client",
        arch: "amd64",
        description: "secure shell (SSH) client, for secure access to remote machines",
      },
      {
        name: "openssh-server",
        arch: "amd64",
        description: "secure shell (SSH) server, for secure access from remote machines",
      },
    ],
    releases: [
      { version: "1:9.2p1-2+deb12u2" },
      { version: "1:9.2p1-2+deb12u3" },
      { version: "1:9.2p1-2+deb12u6" },
    ],
  },
  {
    source: "glibc",
    binaries: [
      { name: "libc6", arch: "amd64", description: "GNU C Library: Shared libraries" },
      { name: "libc-bin", arch: "amd64", description: "GNU C Library: Binaries" },
    ],
    releases: [{ version: "2.36-9+deb12u4" }, { version: "2.36-9+deb12u7" }, { version: "2.36-9+deb12u14" }],
  },
  {
    source: "bash",
    binaries: [{ name: "bash", arch: "amd64", description: "GNU Bourne Again SHell" }],
    // Binary-only rebuilds (binNMUs) of source 5.2.15-2.
    releases: [
      { version: "5.2.15-2+b2", sourceVersion: "5.2.15-2" },
      { version: "5.2.15-2+b8", sourceVersion: "5.2.15-2" },
    ],
  },
  {
    source: "libcap2",
    binaries: [{ name: "libcap2", arch: "amd64", description: "POSIX 1003.1e capabilities (library)" }],
    // binNMUs of an epoch'd source: "Source: libcap2 (1:2.66-4+deb12u2)".
    releases: [
      { version: "1:2.66-4+deb12u2+b2", sourceVersion: "1:2.66-4+deb12u2" },
      { version: "1:2.66-4+deb12u3+b1", sourceVersion: "1:2.66-4+deb12u3" },
    ],
  },
  {
    source: "sudo",
    binaries: [
      { name: "sudo", arch: "amd64", description: "Provide limited super user privileges to specific users" },
    ],
    releases: [{ version: "1.9.13p3-1+deb12u1" }, { version: "1.9.13p3-1+deb12u4" }],
  },
  {
    source: "tzdata",
    binaries: [{ name: "tzdata", arch: "all", description: "time zone and daylight-saving time data" }],
    releases: [{ version: "2024a-0+deb12u1" }, { version: "2025b-0+deb12u2" }],
  },
  {
    source: "ca-certificates",
    binaries: [{ name: "ca-certificates", arch: "all", description: "Common CA certificates" }],
    releases: [{ version: "20230311" }, { version: "20230311+deb12u1" }],
  },
  {
    source: "zlib",
    binaries: [{ name: "zlib1g", arch: "amd64", description: "compression library - runtime" }],
    // Bookworm never updated zlib: one version on every host, a package with nothing to patch.
    releases: [{ version: "1:1.2.13.dfsg-1" }],
  },
  {
    source: "expat",
    binaries: [{ name: "libexpat1", arch: "amd64", description: "XML parsing C library - runtime library" }],
    releases: [{ version: "2.5.0-1" }, { version: "2.5.0-1+deb12u1" }, { version: "2.5.0-1+deb12u2" }],
  },
  {
    source: "libxml2",
    binaries: [{ name: "libxml2", arch: "amd64", description: "GNOME XML library" }],
    releases: [{ version: "2.9.14+dfsg-1.3~deb12u1" }, { version: "2.9.14+dfsg-1.3~deb12u5" }],
  },
  {
    source: "sqlite3",
    binaries: [{ name: "libsqlite3-0", arch: "amd64", description: "SQLite 3 shared library" }],
    releases: [{ version: "3.40.1-2" }, { version: "3.40.1-2+deb12u2" }],
  },
  {
    source: "gnutls28",
    binaries: [{ name: "libgnutls30", arch: "amd64", description: "GNU TLS library - main runtime library" }],
    releases: [{ version: "3.7.9-2+deb12u3" }, { version: "3.7.9-2+deb12u6" }],
  },
  {
    source: "krb5",
    binaries: [{ name: "libkrb5-3", arch: "amd64", description: "MIT Kerberos runtime libraries" }],
    releases: [{ version: "1.20.1-2+deb12u1" }, { version: "1.20.1-2+deb12u3" }],
  },
  {
    source: "systemd",
    binaries: [
      { name: "systemd", arch: "amd64", description: "system and service manager" },
      { name: "libsystemd0", arch: "amd64", description: "systemd utility library" },
    ],
    releases: [{ version: "252.30-1~deb12u2" }, { version: "252.38-1~deb12u1" }],
  },
  {
    source: "util-linux",
    binaries: [
      { name: "util-linux", arch: "amd64", description: "miscellaneous system utilities" },
      { name: "libuuid1", arch: "amd64", description: "Universally Unique ID library" },
    ],
    releases: [{ version: "2.38.1-5+deb12u1" }, { version: "2.38.1-5+deb12u3" }],
  },
  {
    source: "perl",
    binaries: [
      { name: "perl", arch: "amd64", description: "Larry Wall's Practical Extraction and Report Language" },
      { name: "perl-base", arch: "amd64", description: "minimal Perl system" },
    ],
    releases: [{ version: "5.36.0-7+deb12u1" }, { version: "5.36.0-7+deb12u2" }],
  },
  {
    source: "tar",
    binaries: [{ name: "tar", arch: "amd64", description: "GNU version of the tar archiving utility" }],
    releases: [{ version: "1.34+dfsg-1.2" }, { version: "1.34+dfsg-1.2+deb12u1" }],
  },
  {
    source: "nginx",
    role: "web",
    binaries: [
      { name: "nginx", arch: "amd64", description: "small, powerful, scalable web/proxy server" },
      {
        name: "nginx-common",
        arch: "all",
        description: "small, powerful, scalable web/proxy server - common files",
      },
    ],
    releases: [{ version: "1.22.1-9" }, { version: "1.22.1-9+deb12u9" }],
  },
  {
    source: "git",
    role: "dev",
    binaries: [
      { name: "git", arch: "amd64", description: "fast, scalable, distributed revision control system" },
      {
        name: "git-man",
        arch: "all",
        description: "fast, scalable, distributed revision control system (manual pages)",
      },
    ],
    releases: [{ version: "1:2.39.2-1.1" }, { version: "1:2.39.5-0+deb12u3" }],
  },
];

function specFor(
  family: Family,
  binary: Family["binaries"][number],
  release: Family["releases"][number],
): BuildSpec {
  const spec: BuildSpec = {
    name: binary.name,
    version: release.version,
    arch: binary.arch,
    description: binary.description,
  };
  // Debian writes Source only when it differs from the binary: a name, plus a version for binNMUs.
  if (release.sourceVersion !== undefined)
    spec.source = { name: family.source, version: release.sourceVersion };
  else if (family.source !== binary.name) spec.source = { name: family.source };
  return spec;
}

/** Every (package, version) of the catalog: what a fleet's .deb cache holds. */
export function catalogSpecs(): BuildSpec[] {
  return FAMILIES.flatMap((family) =>
    family.releases.flatMap((release) => family.binaries.map((binary) => specFor(family, binary, release))),
  );
}

/** The versions of one binary package, oldest first (the last is the fixed one); [] when unknown. */
export function catalogVersions(name: string): BuildSpec[] {
  for (const family of FAMILIES) {
    const binary = family.binaries.find((b) => b.name === name);
    if (binary) return family.releases.map((release) => specFor(family, binary, release));
  }
  return [];
}

/**
 * The packages of fleet host `hostIndex` (0, 1, 2, …): every host has the base system, even hosts add
 * nginx, every third host git; versions rotate per host and source so inventories differ, while the
 * binaries of one source always share a version, as apt keeps them.
 */
export function hostPackageSet(hostIndex: number): BuildSpec[] {
  if (!Number.isInteger(hostIndex) || hostIndex < 0) {
    throw new ValidationError(`host index must be a non-negative integer, got ${hostIndex}`, {
      where: "hostIndex",
    });
  }
  const specs: BuildSpec[] = [];
  FAMILIES.forEach((family, familyIndex) => {
    if (family.role === "web" && hostIndex % 2 !== 0) return;
    if (family.role === "dev" && hostIndex % 3 !== 1) return;
    const release = family.releases[(hostIndex + familyIndex) % family.releases.length];
    if (!release) return;
    for (const binary of family.binaries) specs.push(specFor(family, binary, release));
  });
  return specs;
}
