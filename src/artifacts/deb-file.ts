import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDpkgTool } from "../agent/dpkg-query.js";
import { AppError, reasonError } from "../domain/errors.js";
import { debFileName, isDebianPackageName, isDebianVersion } from "../localfleet/deb-builder.js";

export interface DebIdentity {
  package: string;
  version: string;
  arch: string;
  fileName: string;
}

/** A .deb is an ar archive (deb(5)): anything else is refused before dpkg-deb runs. */
const AR_MAGIC = Buffer.from("!<arch>\n", "latin1");
const ARCH = /^[a-z0-9][a-z0-9-]{0,49}$/;

function notADeb(message: string): AppError {
  return reasonError("artifact.not-a-deb", `not a valid .deb package: ${message}`, { where: "/body" });
}

/** The first lines of a tool's complaint, enough to say what is wrong without pages of output. */
function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join("; ").slice(0, 500);
}

/**
 * Reads a package file's identity from its control fields (`dpkg-deb -f`) and checks that its whole
 * data part unpacks (`dpkg-deb --fsys-tarfile`): a file whose payload is cut short would otherwise be
 * stored, signed and fail on every host. The bytes go to a private temporary file for dpkg-deb.
 */
export async function inspectDeb(bytes: Uint8Array): Promise<DebIdentity> {
  if (bytes.byteLength === 0) {
    throw reasonError("artifact.empty", "the request body is empty: send the .deb file's bytes", {
      where: "/body",
    });
  }
  if (
    bytes.byteLength < AR_MAGIC.length ||
    !Buffer.from(bytes.subarray(0, AR_MAGIC.length)).equals(AR_MAGIC)
  ) {
    throw notADeb("it does not start with the ar archive signature a .deb has");
  }
  const dir = await mkdtemp(join(tmpdir(), "autopatch-artifact-"));
  try {
    const file = join(dir, "upload.deb");
    await writeFile(file, bytes, { mode: 0o600 });
    let fields: string;
    try {
      fields = (await runDpkgTool("dpkg-deb", ["--field", file, "Package", "Version", "Architecture"]))
        .stdout;
    } catch (err) {
      if (err instanceof AppError && err.code === "unsupported") throw err;
      const stderr = err instanceof AppError ? String(err.details?.stderr ?? err.message) : String(err);
      throw notADeb(firstLines(stderr));
    }
    await checkDataPart(file);
    return identityOf(fields);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `Field: value` lines as dpkg-deb prints several fields; continuation lines do not occur for these. */
export function identityOf(fields: string): DebIdentity {
  const values = new Map<string, string>();
  for (const line of fields.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) values.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const pkg = values.get("Package") ?? "";
  const version = values.get("Version") ?? "";
  const arch = values.get("Architecture") ?? "";
  const bad = (field: string, value: string, rule: string) =>
    reasonError(
      "artifact.invalid-control",
      `the package's control field ${field} ${JSON.stringify(value.slice(0, 100))} is not ${rule}`,
      { where: `/body/control/${field}` },
    );
  if (!isDebianPackageName(pkg)) throw bad("Package", pkg, "a Debian package name");
  if (!isDebianVersion(version)) throw bad("Version", version, "a Debian version");
  if (!ARCH.test(arch)) throw bad("Architecture", arch, "a Debian architecture name");
  return { package: pkg, version, arch, fileName: debFileName({ name: pkg, version, arch }) };
}

/** Streams the data archive to nowhere: dpkg-deb fails on a truncated or corrupt payload. */
function checkDataPart(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("dpkg-deb", ["--fsys-tarfile", file], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    child.on("error", (err) =>
      reject(new AppError("unsupported", `requires dpkg-deb on PATH: ${err.message}`)),
    );
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(notADeb(`its data part does not unpack: ${firstLines(stderr) || `exit ${code}`}`));
    });
  });
}
