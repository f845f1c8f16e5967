/**
 * Package identity: package URLs (purl) ⇄ OSV ecosystem, name and version, following the conventions
 * osv-scanner uses so that imported packages line up with OSV advisories.
 */
import { PackageURL } from "packageurl-js";
import { ValidationError } from "../domain/errors.js";
import { normalizePypiName } from "../ecosystems/pypi/pypi-name.js";

export interface PackageIdentity {
  /** OSV ecosystem, e.g. "Debian:12", "npm", "Maven". */
  ecosystem: string;
  name: string;
  version: string | null;
}

/** What `purlToPackage` also pulls out of a purl for importers: architecture and Debian source package. */
export interface PurlDetails extends PackageIdentity {
  arch: string | null;
  sourceName: string | null;
  sourceVersion: string | null;
}

export interface PackageToPurlInput {
  ecosystem: string;
  name: string;
  version: string | null;
  arch?: string | null;
  /** purl `distro` qualifier; derived from the ecosystem's release ("Debian:12" → "debian-12") when absent. */
  distro?: string | null;
}

/** Raw purl components as written, before packageurl-js applies its per-type case folding. */
export interface PurlParts {
  type: string;
  namespace: string | undefined;
  name: string;
  version: string | undefined;
  qualifiers: Record<string, string>;
}

/**
 * Parses and validates a purl. packageurl-js validates; its raw parse keeps the name's case, which npm
 * (legacy "JSONStream") and Go module paths need, so the raw components are returned.
 */
export function parsePurl(purl: string): PurlParts {
  let parsed: PackageURL;
  let raw: ReturnType<typeof PackageURL.parseString>;
  try {
    parsed = PackageURL.fromString(purl);
    raw = PackageURL.parseString(purl);
  } catch (err) {
    // packageurl-js 2.0.1 may throw a ReferenceError from its golang validator; every failure is bad input.
    const why = err instanceof Error ? err.message.replace(/^Invalid purl:\s*/, "") : String(err);
    throw new ValidationError(`invalid package URL "${purl}": ${why}`, { cause: err });
  }
  const [, namespace, name] = raw;
  return {
    type: parsed.type,
    namespace: namespace ?? parsed.namespace,
    name: name ?? parsed.name,
    version: parsed.version,
    // Qualifiers come from the validated object: its raw parse hands back a URLSearchParams, not its typing.
    qualifiers: { ...parsed.qualifiers },
  };
}

// Debian release numbers by codename, from Debian's distro-info-data (debian.csv).
const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  jessie: "8",
  stretch: "9",
  buster: "10",
  bullseye: "11",
  bookworm: "12",
  trixie: "13",
  forky: "14",
};

// Ubuntu release numbers by codename, from https://wiki.ubuntu.com/Releases.
const UBUNTU_CODENAMES: Readonly<Record<string, string>> = {
  xenial: "16.04",
  bionic: "18.04",
  focal: "20.04",
  jammy: "22.04",
  mantic: "23.10",
  noble: "24.04",
  oracular: "24.10",
  plucky: "25.04",
};

/** purl `rpm` namespaces (and distro ids) → OSV ecosystem base name. */
const RPM_VENDORS: Readonly<Record<string, string>> = {
  almalinux: "AlmaLinux",
  "rocky-linux": "Rocky Linux",
  rocky: "Rocky Linux",
  rockylinux: "Rocky Linux",
  redhat: "Red Hat",
  suse: "SUSE",
  opensuse: "openSUSE",
};

/** purl types whose mapping needs nothing but the ecosystem name. */
const SIMPLE_TYPES: Readonly<Record<string, string>> = {
  cargo: "crates.io",
  gem: "RubyGems",
  nuget: "NuGet",
  hex: "Hex",
  pub: "Pub",
  cran: "CRAN",
  hackage: "Hackage",
  swift: "SwiftURL",
};

/** "debian-12", "debian-12.5", "12", "bookworm", "debian-bookworm" → "12"; null when unknown. */
function debianRelease(distro: string): string | null {
  const d = distro.toLowerCase().replace(/^debian[-_]?/, "");
  const numeric = /^(\d+)(?:\.\d+)*$/.exec(d);
  if (numeric) return numeric[1] ?? null;
  return DEBIAN_CODENAMES[d] ?? null;
}

/** "ubuntu-22.04", "22.04", "jammy" → "22.04"; null when unknown. */
function ubuntuRelease(distro: string): string | null {
  const d = distro.toLowerCase().replace(/^ubuntu[-_]?/, "");
  const numeric = /^(\d{2}\.\d{2})(?:\.\d+)?$/.exec(d);
  if (numeric) return numeric[1] ?? null;
  return UBUNTU_CODENAMES[d] ?? null;
}

/**
 * The OSV release suffix for an rpm distro qualifier, or null. AlmaLinux and Rocky Linux scope by major
 * release; openSUSE and SUSE by the os-release PRETTY_NAME (Leap/Tumbleweed, SLES "15 SP5"); Red Hat by a
 * CPE product stream, which a purl distro cannot express, so Red Hat stays unscoped.
 */
function rpmRelease(ecosystem: string, distro: string): string | null {
  const d = distro.toLowerCase();
  switch (ecosystem) {
    case "AlmaLinux":
    case "Rocky Linux": {
      const m = /(\d+)(?:\.\d+)*$/.exec(d);
      return m?.[1] ?? null;
    }
    case "openSUSE": {
      const leap = /leap[-_ ]?(\d+\.\d+)$/.exec(d);
      if (leap) return `Leap ${leap[1]}`;
      return d.endsWith("tumbleweed") ? "Tumbleweed" : null;
    }
    case "SUSE": {
      const sles = /^(?:sles|suse)[-_ ]?(\d+)(?:\.(\d+))?$/.exec(d);
      if (!sles) return null;
      const sp = sles[2] && sles[2] !== "0" ? ` SP${sles[2]}` : "";
      return `Linux Enterprise Server ${sles[1]}${sp}`;
    }
    default:
      return null;
  }
}

/** Debian `upstream` qualifier as syft writes it: "name" or "name@version". */
function debianSource(upstream: string | undefined): { name: string | null; version: string | null } {
  if (!upstream) return { name: null, version: null };
  const at = upstream.indexOf("@");
  if (at < 0) return { name: upstream, version: null };
  return { name: upstream.slice(0, at), version: upstream.slice(at + 1) || null };
}

/** Maps a purl to its OSV package, with arch and Debian source; null for purl types OSV has no ecosystem for. */
export function purlToDetails(purl: string): PurlDetails | null {
  const p = parsePurl(purl);
  const q = p.qualifiers;
  const version = p.version ?? null;
  const plain = (ecosystem: string, name: string, v: string | null = version): PurlDetails => ({
    ecosystem,
    name,
    version: v,
    arch: q.arch ?? null,
    sourceName: null,
    sourceVersion: null,
  });
  const ns = p.namespace;
  switch (p.type) {
    case "deb": {
      const vendor = ns?.toLowerCase();
      if (vendor !== "debian" && vendor !== "ubuntu") return null;
      const base = vendor === "debian" ? "Debian" : "Ubuntu";
      const release = q.distro ? (vendor === "debian" ? debianRelease : ubuntuRelease)(q.distro) : null;
      // The Debian epoch usually sits inside the version; some producers put it in an `epoch` qualifier.
      const v = version !== null && q.epoch && !version.includes(":") ? `${q.epoch}:${version}` : version;
      const src = debianSource(q.upstream);
      return {
        ...plain(release ? `${base}:${release}` : base, p.name, v),
        sourceName: src.name,
        sourceVersion: src.version,
      };
    }
    case "rpm": {
      const base = ns ? RPM_VENDORS[ns.toLowerCase()] : undefined;
      if (base === undefined) return null;
      const release = q.distro ? rpmRelease(base, q.distro) : null;
      // rpm compares a missing epoch as 0, so epoch 0 is left out as rpm -q prints it.
      const v = version !== null && q.epoch && q.epoch !== "0" ? `${q.epoch}:${version}` : version;
      return plain(release ? `${base}:${release}` : base, p.name, v);
    }
    case "apk": {
      if (ns?.toLowerCase() !== "alpine") return null;
      const m = q.distro ? /(\d+\.\d+)/.exec(q.distro) : null;
      return plain(m ? `Alpine:v${m[1]}` : "Alpine", p.name);
    }
    case "pypi":
      return plain("PyPI", normalizePypiName(p.name));
    case "npm":
      return plain("npm", ns ? `${ns}/${p.name}` : p.name);
    case "maven":
      return plain("Maven", `${ns ?? ""}:${p.name}`);
    case "golang":
      // OSV Go versions are bare semver: "v1.2.3" → "1.2.3".
      return plain("Go", ns ? `${ns}/${p.name}` : p.name, version?.replace(/^v/, "") ?? null);
    case "composer":
      // Packagist names are lowercase "vendor/name".
      return plain("Packagist", (ns ? `${ns}/${p.name}` : p.name).toLowerCase());
    case "github":
      return plain("GitHub Actions", ns ? `${ns}/${p.name}` : p.name);
    default: {
      const eco = SIMPLE_TYPES[p.type];
      if (eco === undefined) return null;
      return plain(eco, ns ? `${ns}/${p.name}` : p.name);
    }
  }
}

/** Maps a purl to its OSV ecosystem, name and version; null for purl types with no OSV ecosystem. */
export function purlToPackage(purl: string): PackageIdentity | null {
  const d = purlToDetails(purl);
  return d === null ? null : { ecosystem: d.ecosystem, name: d.name, version: d.version };
}

const RPM_NAMESPACES = {
  AlmaLinux: { namespace: "almalinux", id: "almalinux" },
  "Rocky Linux": { namespace: "rocky-linux", id: "rocky" },
  "Red Hat": { namespace: "redhat", id: "rhel" },
  SUSE: { namespace: "suse", id: "sles" },
  openSUSE: { namespace: "opensuse", id: "opensuse" },
} as const;

/** Ecosystems whose names are "namespace/name" paths. */
const NAMESPACED_TYPES = { Packagist: "composer", "GitHub Actions": "github", SwiftURL: "swift" } as const;

const SIMPLE_ECOSYSTEMS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SIMPLE_TYPES).map(([type, eco]) => [eco, type]),
);

/** Splits "Debian:12" into base "Debian" and release "12" (release may itself hold ":", as "Ubuntu:22.04:LTS"). */
export function splitEcosystem(ecosystem: string): { base: string; release: string | null } {
  const i = ecosystem.indexOf(":");
  return i < 0
    ? { base: ecosystem, release: null }
    : { base: ecosystem.slice(0, i), release: ecosystem.slice(i + 1) };
}

function splitLast(name: string, sep: string): [string | undefined, string] {
  const i = name.lastIndexOf(sep);
  return i < 0 ? [undefined, name] : [name.slice(0, i), name.slice(i + 1)];
}

/**
 * Builds the purl for a package record. Throws ValidationError for ecosystems with no purl type or names
 * the ecosystem cannot have (a Maven name without "group:").
 */
export function packageToPurl(record: PackageToPurlInput): string {
  const { base, release } = splitEcosystem(record.ecosystem);
  const version = record.version ?? undefined;
  const q: Record<string, string> = {};
  if (record.arch) q.arch = record.arch;
  const build = (type: string, namespace: string | undefined, name: string, v = version): string => {
    try {
      return new PackageURL(type, namespace, name, v, Object.keys(q).length > 0 ? q : undefined).toString();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ValidationError(`cannot build a package URL for ${record.ecosystem} ${record.name}: ${why}`, {
        cause: err,
      });
    }
  };
  switch (base) {
    case "Debian":
    case "Ubuntu": {
      const distro = record.distro ?? (release ? `${base.toLowerCase()}-${release.split(":")[0]}` : null);
      if (distro) q.distro = distro;
      return build("deb", base.toLowerCase(), record.name);
    }
    case "AlmaLinux":
    case "Rocky Linux":
    case "Red Hat":
    case "SUSE":
    case "openSUSE": {
      const vendor = RPM_NAMESPACES[base];
      // Only numeric releases (AlmaLinux, Rocky Linux) become a distro, named by the os-release ID.
      const distro = record.distro ?? (release && /^\d+$/.test(release) ? `${vendor.id}-${release}` : null);
      if (distro) q.distro = distro;
      const m = version === undefined ? null : /^(\d+):(.*)$/.exec(version);
      if (m?.[1] !== undefined && m[2] !== undefined) {
        q.epoch = m[1];
        return build("rpm", vendor.namespace, record.name, m[2]);
      }
      return build("rpm", vendor.namespace, record.name);
    }
    case "Alpine": {
      const m = release ? /^v?(\d+\.\d+)/.exec(release) : null;
      if (m) q.distro = `alpine-${m[1]}`;
      return build("apk", "alpine", record.name);
    }
    case "PyPI":
      return build("pypi", undefined, normalizePypiName(record.name));
    case "npm": {
      const [scope, name] = record.name.startsWith("@")
        ? splitLast(record.name, "/")
        : [undefined, record.name];
      return build("npm", scope, name);
    }
    case "Maven": {
      const [group, artifact] = splitLast(record.name, ":");
      if (!group) throw new ValidationError(`Maven package name "${record.name}" must be "group:artifact"`);
      return build("maven", group, artifact);
    }
    case "Go": {
      const [namespace, name] = splitLast(record.name, "/");
      const v = version === undefined || version.startsWith("v") ? version : `v${version}`;
      return build("golang", namespace, name, v);
    }
    case "Packagist":
    case "GitHub Actions":
    case "SwiftURL": {
      const [namespace, name] = splitLast(record.name, "/");
      return build(NAMESPACED_TYPES[base], namespace, name);
    }
    default: {
      const type = SIMPLE_ECOSYSTEMS[base];
      if (type === undefined) {
        throw new ValidationError(`no package URL type is known for ecosystem "${record.ecosystem}"`);
      }
      return build(type, undefined, record.name);
    }
  }
}
