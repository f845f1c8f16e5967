import { resolve } from "node:path";
import { jsonPointer, reasonError } from "../domain/errors.js";
import { waitForDpkgUnlocked } from "./lock.js";
import { admindirOf, dpkgRootArgs, isSystemRoot } from "./root-options.js";
import { runDpkgTool } from "./tool.js";

/** How long an install waits for another dpkg run (apt, unattended-upgrades) to finish first. */
const LOCK_WAIT_MS = 120_000;

/** Debian policy 5.6.1: what may be passed to dpkg as a package name. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * On a real host nobody answers dpkg's questions: keep a locally changed conffile (and take the
 * package's default where dpkg has one), and tell debconf there is no terminal, as unattended
 * upgrades do. A private root gets the options the local fleet needs instead.
 */
function argsFor(root: string): { args: string[]; env: Record<string, string> } {
  if (isSystemRoot(root)) {
    return {
      args: ["--force-confdef", "--force-confold"],
      env: { DEBIAN_FRONTEND: "noninteractive" },
    };
  }
  return { args: dpkgRootArgs(root), env: {} };
}

/**
 * `dpkg --install` of .deb files into a host root ("/" or a private root), after any other dpkg run.
 */
export async function dpkgInstall(
  root: string,
  debPaths: readonly string[],
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  if (debPaths.length === 0) return;
  await waitForDpkgUnlocked(admindirOf(root), { timeoutMs: LOCK_WAIT_MS, ...options });
  const { args, env } = argsFor(root);
  await runDpkgTool("dpkg", [...args, "--install", "--", ...debPaths.map((p) => resolve(p))], { env });
}

/** `dpkg --remove` of packages from a host root. */
export async function dpkgRemove(
  root: string,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  if (names.length === 0) return;
  names.forEach((name, i) => {
    if (!PACKAGE_NAME.test(name)) {
      throw reasonError("change.invalid-package", `invalid Debian package name ${JSON.stringify(name)}`, {
        where: jsonPointer(["packages", i, "name"]),
      });
    }
  });
  await waitForDpkgUnlocked(admindirOf(root), { timeoutMs: LOCK_WAIT_MS, ...(signal ? { signal } : {}) });
  const { args, env } = argsFor(root);
  await runDpkgTool("dpkg", [...args, "--remove", "--", ...names], { env });
}
