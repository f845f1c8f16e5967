import { join, resolve } from "node:path";

/**
 * Options every dpkg call on a private root gets, each found needed by experiment with dpkg 1.21:
 * - `--root`: install dir and admin dir (<root>/var/lib/dpkg) in one flag.
 * - `--log`: without it dpkg appends to the host's own dpkg.log even with --root.
 * - `--force-script-chrootless`: dpkg otherwise chroots into the root to run maintainer scripts, and the
 *   root has no shell ("unable to execute … post-installation script"). Scripts get $DPKG_ROOT instead.
 * - `--force-bad-path`: dpkg checks that sh, tar, ldconfig, start-stop-daemon … are on the caller's
 *   PATH (the host's, not the root's); a non-root PATH lacks the sbin ones, and stand-ins need none.
 * - `--force-not-root`: lets an unprivileged user manage a root it owns (CI usually runs as root anyway).
 * - `--force-unsafe-io`: skips fsync per file; the roots are throwaway, and it keeps tests fast.
 * - `--force-architecture`: stand-ins carry no machine code, so an amd64 fleet installs on arm64 hosts.
 * Not `--force-depends`: a catalog whose Depends do not hold should fail loudly, not install.
 */
export function dpkgRootArgs(root: string): string[] {
  const dir = resolve(root);
  return [
    `--root=${dir}`,
    `--log=${join(dir, "var", "log", "dpkg.log")}`,
    "--force-script-chrootless",
    "--force-bad-path",
    "--force-not-root",
    "--force-unsafe-io",
    "--force-architecture",
  ];
}

/** True for the machine's own root, where dpkg runs as it always does, without any forcing option. */
export function isSystemRoot(root: string): boolean {
  return resolve(root) === "/";
}

/** The dpkg database of a root. */
export function admindirOf(root: string): string {
  return join(resolve(root), "var", "lib", "dpkg");
}
