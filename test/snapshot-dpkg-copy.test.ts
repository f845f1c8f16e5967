import { chmod, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDpkgRoot, type DpkgRoot } from "../src/localfleet/dpkg-root.js";
import { dpkgSnapshotProvider } from "../src/snapshots/dpkg/provider.js";
import type { SnapshotHost } from "../src/snapshots/provider.js";
import { buildFleetPackages, type FleetPackages, installLogPath } from "../src/testfleet/packages.js";
import { appErrorOf, noFetch } from "./helpers/errors.js";

// The dpkg provider's own copy of the pre-patch package (rebuilt with dpkg-repack) is checked whole
// when the snapshot is taken and again before a restore installs it.
let work: string;
let packages: FleetPackages;
let n = 0;
const PATH = process.env.PATH;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-kept-copy-"));
  packages = await buildFleetPackages(join(work, "packages"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  process.env.PATH = PATH;
});

async function newHost(): Promise<{ root: DpkgRoot; host: SnapshotHost }> {
  n += 1;
  const root = await createDpkgRoot(join(work, `host-${n}`));
  await root.install([packages.base]);
  return { root, host: { root: root.root, keepDir: join(work, `keep-${n}`) } };
}

async function installLog(root: DpkgRoot): Promise<string[]> {
  return (await readFile(installLogPath(root.root), "utf8")).split("\n").filter((l) => l !== "");
}

/** Cuts the last bytes off a .deb: its control member still reads, its data member does not. */
async function damage(path: string): Promise<void> {
  await truncate(path, (await stat(path)).size - 100);
}

describe("the dpkg provider's kept copy", () => {
  it("fails the snapshot, before anything is installed, when dpkg-repack builds a damaged .deb", async () => {
    const { root, host } = await newHost();
    // A dpkg-repack that leaves a truncated file (a full disk, say) and still exits 0.
    const bin = join(work, "damaging-bin");
    await mkdir(bin, { recursive: true });
    const wrapper = join(bin, "dpkg-repack");
    await writeFile(
      wrapper,
      `#!/bin/sh\nPATH=${PATH}\ndpkg-repack "$@" || exit $?\nfor f in *.deb; do truncate -s -100 "$f"; done\n`,
    );
    await chmod(wrapper, 0o755);
    process.env.PATH = `${bin}:${PATH}`;
    const before = await installLog(root);

    const err = await appErrorOf(
      dpkgSnapshotProvider.take(host, { artifactPath: packages.good, available: [], fetch: noFetch }),
    );
    expect(err.reason).toBe("snapshot.unavailable");
    expect(err.message).toMatch(
      new RegExp(`damaged copy of ${packages.package} ${packages.baseVersion}: .*(unexpected end|EOF)`),
    );
    expect(await installLog(root)).toEqual(before);
    expect(await root.installedVersion(packages.package)).toBe(packages.baseVersion);
  });

  it("refuses a restore from a copy damaged after the snapshot, leaving the host as it is", async () => {
    const { root, host } = await newHost();
    const snapshot = await dpkgSnapshotProvider.take(host, {
      artifactPath: packages.good,
      available: [],
      fetch: noFetch,
    });
    const kept = snapshot.packages[0]?.hostPath;
    expect(kept).toBeTruthy();
    await root.install([packages.good]);
    await damage(kept ?? "");
    const before = await installLog(root);

    const err = await appErrorOf(dpkgSnapshotProvider.restore(host, snapshot, noFetch));
    expect(err.reason).toBe("snapshot.restore-failed");
    expect(err.message).toMatch(/the host's copy .* is damaged/);
    // dpkg never started on the broken file: the patched version is still fully installed.
    expect(await installLog(root)).toEqual(before);
    expect(await root.installedVersion(packages.package)).toBe(packages.versions.good);
  });
});
