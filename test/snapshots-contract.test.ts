import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sha256OfFile } from "../src/dpkg/file-digest.js";
import { createDpkgRoot, type DpkgRoot } from "../src/localfleet/dpkg-root.js";
import type { ArtifactRef } from "../src/rollout/operation.js";
import { registeredSnapshotProviders } from "../src/snapshots/index.js";
import type { SnapshotHost } from "../src/snapshots/provider.js";
import { buildFleetPackages, type FleetPackages, installLogPath } from "../src/testfleet/packages.js";
import { appErrorOf, noFetch } from "./helpers/errors.js";

let work: string;
let packages: FleetPackages;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-snapshots-"));
  packages = await buildFleetPackages(join(work, "packages"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function refOf(path: string, version: string): Promise<ArtifactRef> {
  return {
    sha256: await sha256OfFile(path),
    fileName: path.split("/").pop() ?? "x.deb",
    package: packages.package,
    version,
    arch: "all",
    size: 0,
    signature: "c2ln",
  };
}

async function installLog(root: DpkgRoot): Promise<string[]> {
  const text = await readFile(installLogPath(root.root), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

describe.each(registeredSnapshotProviders().map((p) => [p.kind, p] as const))(
  "snapshot provider %s",
  (_kind, provider) => {
    let root: DpkgRoot;
    let host: SnapshotHost;
    let n = 0;

    beforeEach(async () => {
      n += 1;
      root = await createDpkgRoot(join(work, `host-${n}`));
      host = { root: root.root, keepDir: join(work, `keep-${n}`) };
    });

    it("takes, lets the good patch install, restores the base version by reinstalling it", async () => {
      await root.install([packages.base]);
      const snapshot = await provider.take(host, {
        artifactPath: packages.good,
        available: [],
        fetch: noFetch,
      });
      expect(snapshot.packages).toMatchObject([{ name: packages.package, version: packages.baseVersion }]);
      expect(await root.installedVersion(packages.package)).toBe(packages.baseVersion);

      await root.install([packages.good]);
      expect(await root.installedVersion(packages.package)).toBe(packages.versions.good);
      await provider.restore(host, snapshot, noFetch);

      expect(await root.installedVersion(packages.package)).toBe(packages.baseVersion);
      const log = await installLog(root);
      expect(log).toHaveLength(3);
      expect(log[2]).toMatch(
        new RegExp(`^postinst configure ${packages.baseVersion} from=${packages.versions.good} `),
      );
      // The restored package is the service the host ran before: its behaviour file is the base one.
      expect(await readFile(join(root.root, "usr/share/fleet-service/behaviour"), "utf8")).toBe("healthy\n");
    });

    it("restores from the artifact store's copy when the server offers the pre-patch .deb", async () => {
      await root.install([packages.base]);
      const ref = await refOf(packages.base, packages.baseVersion);
      const fetched: string[] = [];
      const fetch = async (r: ArtifactRef) => {
        fetched.push(r.sha256);
        return packages.base;
      };
      const snapshot = await provider.take(host, {
        artifactPath: packages.badHealth,
        available: [ref],
        fetch,
      });
      expect(snapshot.packages[0]?.artifactSha256).toBe(ref.sha256);
      // The store's copy is named, not downloaded: only a restore fetches it.
      expect(snapshot.packages[0]?.hostPath).toBeNull();
      expect(fetched).toEqual([]);
      await root.install([packages.badHealth]);
      await provider.restore(host, snapshot, fetch);
      expect(fetched).toEqual([ref.sha256]);
      expect(await root.installedVersion(packages.package)).toBe(packages.baseVersion);
    });

    it("refuses the store's copy when its bytes are not the ones named", async () => {
      await root.install([packages.base]);
      const ref = await refOf(packages.base, packages.baseVersion);
      const snapshot = await provider.take(host, {
        artifactPath: packages.good,
        available: [ref],
        fetch: async () => packages.good,
      });
      await root.install([packages.good]);
      const err = await appErrorOf(provider.restore(host, snapshot, async () => packages.good));
      expect(err.reason).toBe("snapshot.restore-failed");
      expect(await root.installedVersion(packages.package)).toBe(packages.versions.good);
    });

    it("fails before anything is installed when it has nothing to keep", async () => {
      await root.install([packages.base]);
      // A package dpkg left half-configured cannot be rebuilt from the host, and the store has no copy.
      const status = join(root.admindir, "status");
      const text = await readFile(status, "utf8");
      await writeFile(
        status,
        text.replace("Status: install ok installed", "Status: install ok half-configured"),
      );
      const before = await installLog(root);

      const err = await appErrorOf(
        provider.take(host, { artifactPath: packages.good, available: [], fetch: noFetch }),
      );
      expect(err.reason).toBe("snapshot.unavailable");
      expect(err.message).toMatch(/not fully installed/);
      expect(await installLog(root)).toEqual(before);
      expect(await readFile(status, "utf8")).toContain("half-configured");
    });

    it("records a package that was not installed and removes it on restore", async () => {
      const snapshot = await provider.take(host, {
        artifactPath: packages.good,
        available: [],
        fetch: noFetch,
      });
      expect(snapshot.packages).toMatchObject([{ name: packages.package, version: null }]);
      await root.install([packages.good]);
      await provider.restore(host, snapshot, noFetch);
      expect(await root.installedVersion(packages.package)).toBeNull();
    });

    it("restores nothing twice: a package already at its recorded version is left alone", async () => {
      await root.install([packages.base]);
      const snapshot = await provider.take(host, {
        artifactPath: packages.good,
        available: [],
        fetch: noFetch,
      });
      await provider.restore(host, snapshot, noFetch);
      expect(await installLog(root)).toHaveLength(1);
    });
  },
);
