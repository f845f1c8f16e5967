/**
 * The shared dpkg listing on a real private root: one dpkg-query serves every read until the database
 * changes, and every change dpkg makes (an install, a removal) is seen by the next read.
 */
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listDpkgPackages } from "../src/agent/dpkg-query.js";
import { databaseMarker, dpkgListing } from "../src/dpkg/package-listing.js";
import { installedVersionOf, readPackageState } from "../src/dpkg/package-state.js";
import { createDpkgRoot, type DpkgRoot } from "../src/localfleet/dpkg-root.js";
import { buildFleetPackages, type FleetPackages } from "../src/testfleet/packages.js";

let work: string;
let packages: FleetPackages;
let root: DpkgRoot;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-listing-"));
  packages = await buildFleetPackages(join(work, "packages"));
  root = await createDpkgRoot(join(work, "root"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

it("answers from one query until dpkg changes the database, then sees the change", async () => {
  expect(await readPackageState(root.admindir, packages.package)).toBeNull();
  await root.install([packages.base]);
  expect(await installedVersionOf(root.admindir, packages.package)).toBe(packages.baseVersion);
  const first = await dpkgListing(root.admindir);
  // Unchanged database: the very same listing object, no new dpkg-query.
  expect(await dpkgListing(root.admindir)).toBe(first);
  const records = await listDpkgPackages({ admindir: root.admindir });
  expect(records.map((r) => [r.name, r.version])).toEqual([[packages.package, packages.baseVersion]]);
  expect(await dpkgListing(root.admindir)).toBe(first);

  await root.install([packages.good]);
  expect(await databaseMarker(root.admindir)).not.toBe(first.marker);
  expect(await installedVersionOf(root.admindir, packages.package)).toBe(packages.versions.good);
  const state = await readPackageState(root.admindir, packages.package);
  expect(state).toMatchObject({ name: packages.package, version: packages.versions.good, state: "i" });
});

it("queries again when the status file's times move, even with the same inode and size", async () => {
  const before = await dpkgListing(root.admindir);
  const status = join(root.admindir, "status");
  await utimes(status, new Date(), new Date(Date.now() + 5000));
  const after = await dpkgListing(root.admindir);
  expect(after).not.toBe(before);
  expect(after.stdout).toBe(before.stdout);
});
