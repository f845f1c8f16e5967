import { AppError, reasonError } from "../../domain/errors.js";
import { sha256OfFile } from "../../dpkg/file-digest.js";
import { dpkgInstall, dpkgRemove } from "../../dpkg/install.js";
import {
  debFields,
  hasFilesInstalled,
  isFullyInstalled,
  type PackageState,
  readPackageState,
} from "../../dpkg/package-state.js";
import { admindirOf } from "../../dpkg/root-options.js";
import type { ArtifactRef, Snapshot } from "../../rollout/operation.js";
import { SNAPSHOT_INTERFACE_VERSION, type SnapshotHost, type SnapshotProvider } from "../provider.js";
import { archiveProblem, keptFileName, repackInstalled } from "./repack.js";

type SnapshotPackage = Snapshot["packages"][number];

/** The pre-patch copy of one installed package: the artifact store's when it has it, else a repack. */
async function keepCopy(
  host: SnapshotHost,
  state: PackageState,
  request: Parameters<SnapshotProvider["take"]>[1],
): Promise<SnapshotPackage> {
  const offered = request.available.find(
    (ref) =>
      ref.package === state.name && ref.version === state.version && (ref.arch === state.arch || !state.arch),
  );
  if (offered) {
    // The store keeps the pre-patch .deb and a revert offers it again, signed: a copy is fetched (and
    // its digest and signature checked) only when a restore needs it, not before every install.
    return {
      name: state.name,
      version: state.version,
      arch: state.arch,
      artifactSha256: offered.sha256,
      hostPath: null,
    };
  }
  if (!isFullyInstalled(state)) {
    throw reasonError(
      "snapshot.unavailable",
      `${state.name} ${state.version} is not fully installed (dpkg state "${state.state}"), so it cannot be ` +
        "rebuilt from the host, and the artifact store has no copy of it: repair the package or upload " +
        "its .deb, then retry",
      { where: state.name },
    );
  }
  try {
    const hostPath = await repackInstalled(host.root, state.name, state, host.keepDir);
    return { name: state.name, version: state.version, arch: state.arch, artifactSha256: null, hostPath };
  } catch (err) {
    if (err instanceof AppError && err.reason === "snapshot.unavailable") throw err;
    throw reasonError(
      "snapshot.unavailable",
      `cannot keep a copy of ${state.name} ${state.version}: ${(err as Error).message}`,
      { where: state.name, cause: err },
    );
  }
}

/**
 * The kept .deb of a package: the host's copy when it is still the right package and whole (a damaged
 * one would fail dpkg halfway through unpacking), else the store's.
 */
async function debFor(pkg: SnapshotPackage, fetch: (ref: ArtifactRef) => Promise<string>): Promise<string> {
  let hostCopy = "";
  if (pkg.hostPath) {
    const fields = await debFields(pkg.hostPath).catch(() => null);
    if (fields && fields.name === pkg.name && fields.version === pkg.version) {
      const problem = await archiveProblem(pkg.hostPath);
      if (problem === null) return pkg.hostPath;
      hostCopy = ` (the host's copy ${pkg.hostPath} is damaged: ${problem})`;
    }
  }
  if (pkg.artifactSha256 && pkg.version) {
    // The snapshot names the bytes by digest: the fetcher checks them (and the signature it has).
    const ref: ArtifactRef = {
      sha256: pkg.artifactSha256,
      fileName: keptFileName(pkg.name, pkg.version, pkg.arch ?? "all"),
      package: pkg.name,
      version: pkg.version,
      arch: pkg.arch ?? "all",
      size: 0,
      signature: "",
    };
    const fetched = await fetch(ref);
    if ((await sha256OfFile(fetched)) === pkg.artifactSha256) return fetched;
  }
  throw reasonError(
    "snapshot.restore-failed",
    `no copy of ${pkg.name} ${pkg.version} is left on the host or in the artifact store${hostCopy}`,
    { where: pkg.name },
  );
}

/**
 * The default provider: records the installed version of the package a .deb replaces and keeps the
 * pre-patch .deb (the artifact store's copy, or one rebuilt with dpkg-repack); restores by installing
 * that .deb again, or by removing a package that was not installed before.
 */
export const dpkgSnapshotProvider: SnapshotProvider = {
  kind: "dpkg",
  interfaceVersion: SNAPSHOT_INTERFACE_VERSION,

  async take(host, request) {
    const packages: SnapshotPackage[] = [];
    for (const path of request.artifactPaths ?? [request.artifactPath]) {
      const deb = await debFields(path);
      const state = await readPackageState(
        admindirOf(host.root),
        deb.name,
        deb.arch === "all" ? undefined : deb.arch,
      );
      packages.push(
        state && hasFilesInstalled(state)
          ? await keepCopy(host, state, request)
          : { name: deb.name, version: null, arch: null, artifactSha256: null, hostPath: null },
      );
    }
    return { provider: "dpkg", takenAt: new Date().toISOString(), packages };
  },

  async restore(host, snapshot, fetch) {
    const admindir = admindirOf(host.root);
    // One dpkg call for the whole set: binaries of one source depend on each other's exact version.
    const remove: string[] = [];
    const install: string[] = [];
    for (const pkg of snapshot.packages) {
      const current = await readPackageState(admindir, pkg.name, pkg.arch ?? undefined);
      if (pkg.version === null) {
        if (current && hasFilesInstalled(current)) remove.push(pkg.name);
      } else if (!(current && isFullyInstalled(current) && current.version === pkg.version)) {
        // Already at its recorded version: installing it again would only rerun its scripts.
        install.push(await debFor(pkg, fetch));
      }
    }
    await dpkgInstall(host.root, install);
    if (remove.length > 0) await dpkgRemove(host.root, remove);
    for (const pkg of snapshot.packages) {
      const after = await readPackageState(admindir, pkg.name, pkg.arch ?? undefined);
      const version = after && isFullyInstalled(after) ? after.version : null;
      if (version !== pkg.version) {
        throw reasonError(
          "snapshot.restore-failed",
          `${pkg.name} is at ${version ?? "nothing"} after the restore, not ${pkg.version ?? "removed"}`,
          { where: pkg.name },
        );
      }
    }
  },
};
