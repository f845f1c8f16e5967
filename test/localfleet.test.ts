import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PackageURL } from "packageurl-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dpkgStateFingerprint, listDpkgPackages } from "../src/agent/dpkg-query.js";
import { distroQualifier, osvEcosystemFor, readOsRelease } from "../src/agent/os-release.js";
import { isAppError } from "../src/domain/errors.js";
import { catalogSpecs, catalogVersions, hostPackageSet } from "../src/localfleet/catalog.js";
import { type BuildSpec, buildDeb } from "../src/localfleet/deb-builder.js";
import { createDpkgRoot, type DpkgRoot } from "../src/localfleet/dpkg-root.js";

/** Fails the whole file with an install hint instead of skipping when the Debian tools are missing. */
function requireTool(tool: string): void {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`test/localfleet.test.ts requires ${tool}: apt-get install dpkg-dev (or dpkg)`);
  }
}

function spec(name: string, version: string): BuildSpec {
  const found = catalogVersions(name).find((s) => s.version === version);
  if (!found) throw new Error(`catalog has no ${name} ${version}`);
  return found;
}

function fixture(name: string): URL {
  return new URL(`./fixtures/data/dpkg/${name}`, import.meta.url);
}

type Row = [name: string, version: string, arch: string, sourceName: string, sourceVersion: string];

async function rows(root: DpkgRoot): Promise<Row[]> {
  const records = await listDpkgPackages({ admindir: root.admindir });
  return records.map((r) => [r.name, r.version, r.arch ?? "", r.sourceName ?? "", r.sourceVersion ?? ""]);
}

describe("local fleet: real .debs in private dpkg roots", () => {
  let work: string;
  let debs: string;
  const deb = async (name: string, version: string) => buildDeb(spec(name, version), debs);

  beforeAll(async () => {
    for (const tool of ["dpkg-deb", "dpkg", "dpkg-query"]) requireTool(tool);
    work = await mkdtemp(join(tmpdir(), "autopatch-localfleet-"));
    debs = join(work, "debs");
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("builds a .deb with the expected name and reuses it on the second call", async () => {
    const first = await deb("openssh-client", "1:9.2p1-2+deb12u2");
    expect(first).toBe(join(debs, "openssh-client_9.2p1-2+deb12u2_amd64.deb"));
    const before = await stat(first);
    const again = await deb("openssh-client", "1:9.2p1-2+deb12u2");
    expect(again).toBe(first);
    expect((await stat(again)).mtimeMs).toBe(before.mtimeMs);
    const fields = execFileSync("dpkg-deb", ["-f", first, "Package", "Version", "Source", "Architecture"], {
      encoding: "utf8",
    });
    expect(fields).toBe(
      "Package: openssh-client\nVersion: 1:9.2p1-2+deb12u2\nSource: openssh\nArchitecture: amd64\n",
    );
  });

  it("rejects a bad version before dpkg-deb runs", async () => {
    const err = await buildDeb({ name: "foo", version: "1.0_bad" }, debs).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe("validation");
  });

  it("installs, upgrades and removes packages in two roots and reads each inventory back", async () => {
    const hostA = await createDpkgRoot(join(work, "host-a"));
    const hostB = await createDpkgRoot(join(work, "host-b"));

    await hostA.install(
      await Promise.all([
        deb("openssl", "3.0.11-1~deb12u2"),
        deb("libssl3", "3.0.11-1~deb12u2"),
        deb("bash", "5.2.15-2+b2"),
        deb("libcap2", "1:2.66-4+deb12u2+b2"),
        deb("tzdata", "2024a-0+deb12u1"),
        deb("curl", "7.88.1-10+deb12u5"),
      ]),
    );
    await hostB.install(
      await Promise.all([
        deb("openssh-client", "1:9.2p1-2+deb12u2"),
        deb("openssh-server", "1:9.2p1-2+deb12u2"),
        deb("zlib1g", "1:1.2.13.dfsg-1"),
        deb("nginx", "1.22.1-9"),
      ]),
    );

    const fingerprintBefore = dpkgStateFingerprint(hostA.admindir);
    // Upgrade one package (the OpenSSL fix reaches libssl3 first), remove another.
    await hostA.install([await deb("libssl3", "3.0.19-1~deb12u2")]);
    await hostA.remove(["curl"]);
    expect(dpkgStateFingerprint(hostA.admindir)).not.toBe(fingerprintBefore);

    expect(await rows(hostA)).toEqual<Row[]>([
      ["bash", "5.2.15-2+b2", "amd64", "bash", "5.2.15-2"],
      ["libcap2", "1:2.66-4+deb12u2+b2", "amd64", "libcap2", "1:2.66-4+deb12u2"],
      ["libssl3", "3.0.19-1~deb12u2", "amd64", "openssl", "3.0.19-1~deb12u2"],
      ["openssl", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2"],
      ["tzdata", "2024a-0+deb12u1", "all", "tzdata", "2024a-0+deb12u1"],
    ]);
    expect(await rows(hostB)).toEqual<Row[]>([
      ["nginx", "1.22.1-9", "amd64", "nginx", "1.22.1-9"],
      ["openssh-client", "1:9.2p1-2+deb12u2", "amd64", "openssh", "1:9.2p1-2+deb12u2"],
      ["openssh-server", "1:9.2p1-2+deb12u2", "amd64", "openssh", "1:9.2p1-2+deb12u2"],
      ["zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1"],
    ]);

    expect(await hostA.installedVersion("libssl3")).toBe("3.0.19-1~deb12u2");
    expect(await hostA.installedVersion("curl")).toBeNull();
    expect(await hostA.installedVersion("never-installed")).toBeNull();
  });

  it("detects the root's Debian 12 os-release and stamps ecosystem and purl", async () => {
    const host = await createDpkgRoot(join(work, "host-c"));
    await host.install([await deb("openssh-server", "1:9.2p1-2+deb12u3")]);
    const os = await readOsRelease(host.root);
    expect(os).toEqual({ id: "debian", versionId: "12", codename: "bookworm" });
    const [record] = await listDpkgPackages({
      admindir: host.admindir,
      ecosystem: osvEcosystemFor(os),
      distro: distroQualifier(os),
    });
    expect(record).toMatchObject({ ecosystem: "Debian:12", name: "openssh-server", sourceName: "openssh" });
    const purl = PackageURL.fromString(record?.purl ?? "");
    expect([purl.type, purl.namespace, purl.name, purl.version, purl.qualifiers]).toEqual([
      "deb",
      "debian",
      "openssh-server",
      "1:9.2p1-2+deb12u3",
      { arch: "amd64", distro: "debian-12" },
    ]);
  });

  it("gives each catalog host a different inventory", async () => {
    const inventories: string[] = [];
    for (const hostIndex of [0, 1, 2]) {
      const host = await createDpkgRoot(join(work, `fleet-${hostIndex}`));
      const specs = hostPackageSet(hostIndex);
      await host.install(await Promise.all(specs.map((s) => buildDeb(s, debs))));
      const listed = await listDpkgPackages({ admindir: host.admindir });
      expect(listed.map((r) => `${r.name}=${r.version}`).sort()).toEqual(
        specs.map((s) => `${s.name}=${s.version}`).sort(),
      );
      inventories.push(JSON.stringify(listed));
    }
    expect(new Set(inventories).size).toBe(3);
  });

  it("lists every catalog package's versions oldest first, as dpkg orders them", () => {
    for (const name of new Set(catalogSpecs().map((s) => s.name))) {
      const versions = catalogVersions(name).map((s) => s.version);
      for (let i = 1; i < versions.length; i++) {
        // dpkg --compare-versions exits 0 when the relation holds.
        execFileSync("dpkg", ["--compare-versions", versions[i - 1] ?? "", "lt", versions[i] ?? ""]);
      }
    }
  });

  it("keeps only installed states from a real status file (osv-scalibr fixture)", async () => {
    const admindir = join(work, "scalibr-admin");
    await mkdir(join(admindir, "updates"), { recursive: true });
    await copyFile(fixture("osv-scalibr-statusfield.status"), join(admindir, "status"));
    const names = (await listDpkgPackages({ admindir })).map((r) => r.name);
    expect(names).toEqual(["wantdeinstall_installed", "wantinstall_installed", "wantpurge_installed"]);
  });

  it("reads the 719 packages of a stock Debian 12 image", async () => {
    const admindir = join(work, "bookworm-admin");
    await mkdir(join(admindir, "updates"), { recursive: true });
    await copyFile(fixture("debian12-bookworm-node-image.status"), join(admindir, "status"));
    const records = await listDpkgPackages({ admindir, ecosystem: "Debian:12" });
    expect(records).toHaveLength(719);
    expect(records.find((r) => r.name === "libpam-cap")).toMatchObject({
      version: "1:2.66-4+deb12u2+b2",
      sourceName: "libcap2",
      sourceVersion: "1:2.66-4+deb12u2",
    });
  });
});
