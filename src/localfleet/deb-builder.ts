import { randomBytes } from "node:crypto";
import { access, chmod, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { runDpkgTool } from "../agent/dpkg-query.js";
import { jsonPointer, ValidationError } from "../domain/errors.js";

export interface BuildSpec {
  name: string;
  version: string;
  /** Debian architecture; "all" when omitted. */
  arch?: string;
  /** Source package; `version` only for binNMUs and other builds whose version differs from the source's. */
  source?: { name: string; version?: string };
  /** One-line synopsis; a continuation line is added to the control file. */
  description?: string;
  /** A Depends field value, e.g. "libc6 (>= 2.34), libssl3 (>= 3.0.0)". */
  depends?: string;
  /** Path inside the package → content. Default: /usr/share/<name>/VERSION holding the version. */
  files?: Record<string, string>;
  /**
   * postinst script body. The local fleet runs scripts outside the root (--force-script-chrootless), so
   * a script must prefix every path with "$DPKG_ROOT". "#!/bin/sh" and "set -e" are added when missing.
   */
  postinst?: string;
}

/** Debian policy 5.6.1 / 5.6.7: lower-case alphanumerics and + - ., at least two, starting alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** Architecture names as dpkg-architecture prints them ("all", "amd64", "arm64", "armhf", …). */
const ARCH = /^[a-z0-9][a-z0-9-]*$/;
const EPOCH = /^\d+$/;
const UPSTREAM_WITH_REVISION = /^\d[A-Za-z0-9.+~-]*$/;
const UPSTREAM_NO_REVISION = /^\d[A-Za-z0-9.+~]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

/** True when `version` is a valid Debian version ([epoch:]upstream[-revision], Debian policy 5.6.12). */
export function isDebianVersion(version: string): boolean {
  const colon = version.indexOf(":");
  const epoch = colon === -1 ? null : version.slice(0, colon);
  const rest = colon === -1 ? version : version.slice(colon + 1);
  if (epoch !== null && !EPOCH.test(epoch)) return false;
  const dash = rest.lastIndexOf("-");
  if (dash === -1) return UPSTREAM_NO_REVISION.test(rest);
  return UPSTREAM_WITH_REVISION.test(rest.slice(0, dash)) && REVISION.test(rest.slice(dash + 1));
}

export function isDebianPackageName(name: string): boolean {
  return PACKAGE_NAME.test(name);
}

/** Checks a spec before dpkg-deb sees it; every problem names the field it is in. */
export function validateBuildSpec(spec: BuildSpec): void {
  const fail = (where: string, message: string): never => {
    throw new ValidationError(message, { where });
  };
  if (!isDebianPackageName(spec.name))
    fail("/name", `invalid Debian package name ${JSON.stringify(spec.name)}`);
  if (!isDebianVersion(spec.version))
    fail("/version", `invalid Debian version ${JSON.stringify(spec.version)}`);
  if (spec.arch !== undefined && !ARCH.test(spec.arch)) {
    fail("/arch", `invalid architecture ${JSON.stringify(spec.arch)}`);
  }
  if (spec.source) {
    if (!isDebianPackageName(spec.source.name)) {
      fail("/source/name", `invalid source package name ${JSON.stringify(spec.source.name)}`);
    }
    if (spec.source.version !== undefined && !isDebianVersion(spec.source.version)) {
      fail("/source/version", `invalid Debian version ${JSON.stringify(spec.source.version)}`);
    }
  }
  // Control fields are line-based: a newline would let a value inject another field.
  if (spec.description !== undefined && (/[\r\n]/.test(spec.description) || spec.description.trim() === "")) {
    fail("/description", "description must be one non-empty line");
  }
  // Package names, version relations, alternatives and arch qualifiers; no newlines (see above).
  if (spec.depends !== undefined && !/^[A-Za-z0-9+.~:|,()<>= -]+$/.test(spec.depends)) {
    fail("/depends", `invalid Depends value ${JSON.stringify(spec.depends)}`);
  }
  for (const path of Object.keys(spec.files ?? {})) {
    const rel = normalisePackagePath(path);
    if (rel === null)
      fail(jsonPointer(["files", path]), `file path ${JSON.stringify(path)} must stay inside the package`);
  }
}

/** "/usr/share/x/VERSION" → "usr/share/x/VERSION"; null for paths that escape the root or touch DEBIAN/. */
function normalisePackagePath(path: string): string | null {
  const rel = posix.normalize(path.replace(/^\/+/, ""));
  if (rel === "." || rel === "" || rel.startsWith("..") || rel.split("/")[0] === "DEBIAN") return null;
  return rel;
}

export function debFileName(spec: Pick<BuildSpec, "name" | "version" | "arch">): string {
  // dpkg-deb drops the epoch from file names ("openssh-client_9.2p1-2+deb12u2_amd64.deb").
  const version = spec.version.replace(/^\d+:/, "");
  return `${spec.name}_${version}_${spec.arch ?? "all"}.deb`;
}

/** The DEBIAN/control text for a spec; exported so unit tests can check it without dpkg-deb. */
export function controlFile(spec: BuildSpec, installedSizeKiB: number): string {
  const lines = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.arch ?? "all"}`,
    "Maintainer: autopatch local fleet <autopatch@localhost.invalid>",
    `Installed-Size: ${installedSizeKiB}`,
  ];
  if (spec.source) {
    lines.push(
      spec.source.version === undefined
        ? `Source: ${spec.source.name}`
        : `Source: ${spec.source.name} (${spec.source.version})`,
    );
  }
  if (spec.depends !== undefined) lines.push(`Depends: ${spec.depends}`);
  lines.push(`Description: ${spec.description ?? `${spec.name} stand-in package`}`);
  lines.push(" Empty stand-in built by the autopatch local fleet: metadata and a VERSION file only.");
  return `${lines.join("\n")}\n`;
}

/**
 * Builds `<outDir>/<name>_<version>_<arch>.deb` with dpkg-deb and returns its path. An existing file
 * of that name is reused as is: names carry name, version and arch, and the fleet never rebuilds one.
 */
export async function buildDeb(spec: BuildSpec, outDir: string): Promise<string> {
  validateBuildSpec(spec);
  const outPath = join(outDir, debFileName(spec));
  if (await exists(outPath)) return outPath;

  const files = spec.files ?? { [`/usr/share/${spec.name}/VERSION`]: `${spec.version}\n` };
  const staging = await mkdtemp(join(tmpdir(), "autopatch-deb-"));
  try {
    let installedSize = 0;
    for (const [path, content] of Object.entries(files)) {
      const rel = normalisePackagePath(path);
      if (rel === null) continue; // rejected by validateBuildSpec already
      const target = join(staging, rel);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, content, { mode: 0o644 });
      // Installed-Size is in KiB, rounded up per file as dpkg-gencontrol counts it.
      installedSize += Math.ceil(Buffer.byteLength(content) / 1024);
    }
    const debian = join(staging, "DEBIAN");
    await mkdir(debian, { mode: 0o755 });
    // mkdir modes pass through the umask; dpkg-deb rejects a DEBIAN folder that is group/world writable
    // or not readable, so set it exactly.
    await chmod(debian, 0o755);
    await writeFile(join(debian, "control"), controlFile(spec, Math.max(installedSize, 1)), { mode: 0o644 });
    if (spec.postinst !== undefined) {
      const body = spec.postinst.startsWith("#!") ? spec.postinst : `#!/bin/sh\nset -e\n${spec.postinst}`;
      await writeFile(join(debian, "postinst"), body.endsWith("\n") ? body : `${body}\n`, { mode: 0o755 });
      await chmod(join(debian, "postinst"), 0o755);
    }

    await mkdir(outDir, { recursive: true });
    // Build under a temporary name and rename: parallel builders of the same package never see half a file.
    const partial = join(outDir, `.${debFileName(spec)}.${randomBytes(4).toString("hex")}.partial`);
    try {
      await runDpkgTool("dpkg-deb", ["--build", "--root-owner-group", "-Zgzip", staging, partial], {
        // A fixed timestamp makes the same spec build the same bytes.
        env: { SOURCE_DATE_EPOCH: "1686355200" },
      });
      await rename(partial, outPath);
    } finally {
      await rm(partial, { force: true });
    }
    return outPath;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
