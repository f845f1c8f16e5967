/**
 * The installed rule against dpkg itself: on every status file of the test data, the importer and the
 * agent keep exactly the packages whose `${db:Status-Status}` is "installed" as dpkg-query prints it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dpkgQueryFormat, listDpkgPackages, runDpkgTool } from "../src/agent/dpkg-query.js";
import { parseDpkgStatus } from "../src/inventory/importers/dpkg-status.js";

const DPKG_DATA = join(import.meta.dirname, "fixtures", "data", "dpkg");
const FILES = readdirSync(DPKG_DATA).filter((f) => f.endsWith(".status"));
const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A dpkg admin directory holding only this status file, as dpkg-query --admindir reads it. */
function admindirWith(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dpkg-admindir-"));
  roots.push(dir);
  writeFileSync(join(dir, "status"), readFileSync(join(DPKG_DATA, file)));
  return dir;
}

/** name/arch=version of every package dpkg-query says is installed (runDpkgTool names the package to install when dpkg-query is missing). */
async function installedByDpkg(admindir: string): Promise<string[]> {
  const { stdout } = await runDpkgTool("dpkg-query", [
    `--admindir=${admindir}`,
    "-W",
    `-f=${dpkgQueryFormat(["Package", "Architecture", "Version", "db:Status-Status"])}`,
  ]);
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"))
    .filter(([, , , state]) => state === "installed")
    .map(([name, arch, version]) => `${name}/${arch ?? ""}=${version ?? ""}`)
    .sort();
}

const key = (p: { name: string; arch?: string | null; version: string }) =>
  `${p.name}/${p.arch ?? ""}=${p.version}`;

describe("dpkg's own count of installed packages", () => {
  it("covers every status file of the test data, including the want/flag variations", () => {
    expect(FILES).toEqual(expect.arrayContaining(["osv-scalibr-statusfield.status"]));
    const text = readFileSync(join(DPKG_DATA, "osv-scalibr-statusfield.status"), "utf8");
    expect(text).toContain("Status: deinstall reinstreq installed");
    expect(text).toContain("Status: purge ok installed");
  });

  it.each(FILES)("%s: the importer and the agent keep what dpkg-query calls installed", async (file) => {
    const admindir = admindirWith(file);
    const expected = await installedByDpkg(admindir);
    expect(expected.length).toBeGreaterThan(0);
    const imported = parseDpkgStatus(readFileSync(join(DPKG_DATA, file), "utf8"), { file }).packages;
    expect(imported.map(key).sort()).toEqual(expected);
    const listed = await listDpkgPackages({ admindir });
    expect(listed.map(key).sort()).toEqual(expected);
  });
});
