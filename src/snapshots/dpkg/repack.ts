import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { AppError, reasonError } from "../../domain/errors.js";
import { debFields } from "../../dpkg/package-state.js";
import { isSystemRoot } from "../../dpkg/root-options.js";
import { runDpkgTool } from "../../dpkg/tool.js";

/** `name_version_arch.deb`, with the epoch's colon spelled as apt spells it in its cache (%3a). */
export function keptFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replaceAll(":", "%3a")}_${arch}.deb`;
}

/**
 * Why the .deb at `path` cannot be installed as it is, or null when dpkg-deb reads the whole archive
 * back: its control fields are read elsewhere, and listing its contents decompresses every byte of the
 * data member, so a truncated or corrupt copy is found now rather than by the revert that needs it.
 */
export async function archiveProblem(path: string): Promise<string | null> {
  try {
    await runDpkgTool("dpkg-deb", ["--contents", "--", path]);
    return null;
  } catch (err) {
    if (err instanceof AppError && err.code === "unsupported") throw err;
    const stderr = err instanceof AppError ? err.details?.stderr : undefined;
    return typeof stderr === "string" && stderr.trim() !== "" ? stderr.trim() : (err as Error).message;
  }
}

/**
 * Rebuilds the installed package `name` from the host's files with Debian's dpkg-repack, into
 * `keepDir`. dpkg-repack exits 0 even when it could not build (a package not fully installed, say), so
 * success is the .deb it leaves behind, with the name and version the database records.
 */
export async function repackInstalled(
  root: string,
  name: string,
  expected: { version: string; arch: string },
  keepDir: string,
): Promise<string> {
  await mkdir(keepDir, { recursive: true, mode: 0o700 });
  // dpkg-repack writes into its working folder; a fresh one per run keeps parallel runs apart.
  const work = await mkdtemp(join(keepDir, ".repack-"));
  try {
    const args = [...(isSystemRoot(root) ? [] : [`--root=${root}`]), "--", name];
    const { stderr } = await runDpkgTool("dpkg-repack", args, { cwd: work });
    const built = (await readdir(work)).filter((f) => f.endsWith(".deb"));
    const file = built.length === 1 ? built[0] : undefined;
    if (file === undefined) {
      throw reasonError(
        "snapshot.unavailable",
        `dpkg-repack could not rebuild ${name} ${expected.version}: ${stderr.trim() || "it built no package"}`,
        { where: name },
      );
    }
    const fields = await debFields(join(work, file));
    if (fields.name !== name || fields.version !== expected.version) {
      throw reasonError(
        "snapshot.unavailable",
        `dpkg-repack built ${fields.name} ${fields.version}, not ${name} ${expected.version}`,
        { where: name },
      );
    }
    const problem = await archiveProblem(join(work, file));
    if (problem !== null) {
      throw reasonError(
        "snapshot.unavailable",
        `dpkg-repack built a damaged copy of ${name} ${expected.version}: ${problem}`,
        { where: name },
      );
    }
    const kept = join(keepDir, keptFileName(name, expected.version, fields.arch || expected.arch));
    await rename(join(work, file), kept);
    return kept;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
