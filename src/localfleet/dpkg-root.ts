import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { dpkgQueryFormat, runDpkgTool } from "../agent/dpkg-query.js";
import { DEBIAN_12_OS_RELEASE } from "../agent/os-release.js";
import { ValidationError } from "../domain/errors.js";
import { dpkgRootArgs } from "../dpkg/root-options.js";
import { dpkgStateIsInstalled } from "../inventory/importers/dpkg-installed.js";
import { isDebianPackageName } from "./deb-builder.js";

/** A private dpkg installation under one folder: a stand-in host of the local fleet. */
export interface DpkgRoot {
  /** Absolute path of the root ("/" of the stand-in host). */
  readonly root: string;
  /** Its dpkg database: <root>/var/lib/dpkg. */
  readonly admindir: string;
  /** Installs (or upgrades/downgrades to) the given .deb files in one dpkg run. */
  install(debPaths: string[]): Promise<void>;
  /** Removes packages by name (dpkg --remove; they have no conffiles, so nothing is left behind). */
  remove(names: string[]): Promise<void>;
  /** Version of an installed package, or null when it is not installed. */
  installedVersion(name: string): Promise<string | null>;
}

/** Empty files of a fresh admin dir: `status` is the database; `available` is what dselect-era tools read. */
const ADMIN_FILES = ["status", "available"] as const;
/** Folders dpkg writes into: package file lists and scripts, its journal, trigger state, alternatives. */
const ADMIN_DIRS = ["info", "updates", "triggers", "alternatives"] as const;

/**
 * Makes (or reopens) a dpkg root at `dir` with the layout `dpkg --root` needs, plus an etc/os-release of
 * a Debian 12 host so the agent detects the distro there as it would on a real machine.
 */
export async function createDpkgRoot(dir: string): Promise<DpkgRoot> {
  const root = resolve(dir);
  const admindir = join(root, "var", "lib", "dpkg");
  for (const sub of ADMIN_DIRS) await mkdir(join(admindir, sub), { recursive: true });
  for (const sub of [["var", "log"], ["etc"], ["usr", "share"], ["usr", "bin"], ["tmp"]]) {
    await mkdir(join(root, ...sub), { recursive: true });
  }
  // "wx" keeps an existing database: reopening a root must not forget what is installed in it.
  for (const file of ADMIN_FILES) await writeIfMissing(join(admindir, file), "");
  await writeIfMissing(join(root, "etc", "os-release"), DEBIAN_12_OS_RELEASE);
  return new LocalDpkgRoot(root, admindir);
}

class LocalDpkgRoot implements DpkgRoot {
  constructor(
    readonly root: string,
    readonly admindir: string,
  ) {}

  async install(debPaths: string[]): Promise<void> {
    if (debPaths.length === 0) return;
    await runDpkgTool("dpkg", [
      ...dpkgRootArgs(this.root),
      "--install",
      "--",
      ...debPaths.map((p) => resolve(p)),
    ]);
  }

  async remove(names: string[]): Promise<void> {
    if (names.length === 0) return;
    checkNames(names);
    await runDpkgTool("dpkg", [...dpkgRootArgs(this.root), "--remove", "--", ...names]);
  }

  async installedVersion(name: string): Promise<string | null> {
    checkNames([name]);
    // dpkg-query exits 1 for a package it has never heard of; that is "not installed", not an error.
    const { stdout, exitCode } = await runDpkgTool(
      "dpkg-query",
      [
        `--admindir=${this.admindir}`,
        "-W",
        `-f=${dpkgQueryFormat(["db:Status-Status", "Version"])}`,
        "--",
        name,
      ],
      { allowExitCodes: [1] },
    );
    if (exitCode !== 0) return null;
    const [state, version] = (stdout.split("\n")[0] ?? "").split("\t");
    if (!state || !version) return null;
    return dpkgStateIsInstalled(state) ? version : null;
  }
}

function checkNames(names: string[]): void {
  names.forEach((name, i) => {
    if (!isDebianPackageName(name)) {
      throw new ValidationError(`invalid Debian package name ${JSON.stringify(name)}`, { where: `/${i}` });
    }
  });
}

async function writeIfMissing(path: string, content: string): Promise<void> {
  try {
    await writeFile(path, content, { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
