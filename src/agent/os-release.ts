import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface OsRelease {
  /** Lower-case ID from os-release ("debian", "ubuntu"); "linux" when the file has none, as os-release(5) says. */
  id: string;
  /** VERSION_ID ("12", "22.04"); null on rolling releases such as Debian testing/sid. */
  versionId: string | null;
  /** VERSION_CODENAME ("bookworm", "jammy"), or UBUNTU_CODENAME on old Ubuntu releases. */
  codename: string | null;
}

/** os-release(5) locations, relative to the root: /etc wins, /usr/lib is the vendor fallback. */
const OS_RELEASE_PATHS = [
  ["etc", "os-release"],
  ["usr", "lib", "os-release"],
] as const;

/** Reads os-release under `root` (a host's "/" or a private dpkg root). Missing file → {id: "linux"}. */
export async function readOsRelease(root = "/"): Promise<OsRelease> {
  for (const parts of OS_RELEASE_PATHS) {
    let text: string;
    try {
      text = await readFile(join(root, ...parts), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    return osReleaseFromFields(parseOsRelease(text));
  }
  return { id: "linux", versionId: null, codename: null };
}

/** Parses os-release's shell-like KEY=value lines (quotes and backslash escapes, # comments). */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!/^[A-Z0-9_]+$/.test(key)) continue;
    fields[key] = unquote(line.slice(eq + 1));
  }
  return fields;
}

export function osReleaseFromFields(fields: Record<string, string>): OsRelease {
  const id = (fields.ID ?? "").toLowerCase() || "linux";
  const versionId = fields.VERSION_ID || null;
  const codename = fields.VERSION_CODENAME || fields.UBUNTU_CODENAME || null;
  return { id, versionId, codename };
}

/**
 * OSV ecosystem for a host's distro packages. Debian is scoped by major release ("Debian:12"); Ubuntu
 * takes the mandatory ":LTS" suffix on LTS releases ("Ubuntu:22.04:LTS") because that is how OSV's
 * ecosystems.json and the Ubuntu OSV feed spell it; anything else falls back to plain "Debian".
 */
export function osvEcosystemFor(osRelease: OsRelease): string {
  const { id, versionId } = osRelease;
  if (id === "debian" && versionId) {
    const major = versionId.split(".")[0];
    return major ? `Debian:${major}` : "Debian";
  }
  if (id === "ubuntu" && versionId) {
    return isUbuntuLts(versionId) ? `Ubuntu:${versionId}:LTS` : `Ubuntu:${versionId}`;
  }
  return "Debian";
}

/** Ubuntu LTS releases are the April releases of even years (8.04, …, 22.04, 24.04); 6.06 predates the rule. */
export function isUbuntuLts(versionId: string): boolean {
  if (versionId === "6.06") return true;
  const m = /^(\d+)\.04$/.exec(versionId);
  return m !== null && Number(m[1]) % 2 === 0;
}

/** purl `distro` qualifier: "debian-12", "ubuntu-22.04"; the codename or bare id when there is no version. */
export function distroQualifier(osRelease: OsRelease): string {
  const suffix = osRelease.versionId ?? osRelease.codename;
  return suffix ? `${osRelease.id}-${suffix}` : osRelease.id;
}

/** The os-release of a Debian 12 host, as the stand-in roots of the local fleet carry it. */
export const DEBIAN_12_OS_RELEASE = [
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
  'NAME="Debian GNU/Linux"',
  'VERSION_ID="12"',
  'VERSION="12 (bookworm)"',
  "VERSION_CODENAME=bookworm",
  "ID=debian",
  'HOME_URL="https://www.debian.org/"',
  'SUPPORT_URL="https://www.debian.org/support"',
  'BUG_REPORT_URL="https://bugs.debian.org/"',
  "",
].join("\n");

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    // Inside double quotes os-release allows the shell escapes \" \\ \$ \` only.
    return v.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
  }
  return v;
}
