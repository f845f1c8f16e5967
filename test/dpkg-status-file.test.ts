/**
 * The in-process reading of a dpkg status file against dpkg-query itself (the reference): the same
 * lines in LISTING_FIELDS for every state dpkg records, sources with and without a version, Multi-Arch
 * packages, continuation lines; and no answer (so dpkg-query is asked) while journal entries are pending.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LISTING_FIELDS } from "../src/dpkg/package-listing.js";
import { listingFromStatusFile } from "../src/dpkg/status-file.js";
import { dpkgQueryFormat, runDpkgTool } from "../src/dpkg/tool.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-status-file-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const STATUS = `Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 160
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.
 .
 This package includes the shared library.

Package: zlib1g
Status: install ok installed
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: i386
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime (i386)

Package: libssl3
Status: install ok unpacked
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1
Description: Secure Sockets Layer toolkit - shared libraries

Package: old-tool
Status: deinstall ok config-files
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: all
Version: 0.9-1
Conffiles:
 /etc/old-tool.conf 0123456789abcdef0123456789abcdef
Description: gone but for its configuration

Package: purged-tool
Status: purge ok not-installed
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: all

Package: broken
Status: install reinstreq half-installed
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: all
Version: 2.0-1
Description: half there

Package: held
Status: hold ok half-configured
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: amd64
Version: 1.0-1
Description: held back

Package: waiting
Status: install ok triggers-awaited
Maintainer: Fleet Maintainers <fleet@example.org>
Triggers-Awaited: pending
Architecture: all
Version: 1.0-1
Description: awaits triggers

Package: pending
Status: install ok triggers-pending
Maintainer: Fleet Maintainers <fleet@example.org>
Triggers-Pending: /usr/lib
Architecture: all
Version: 1.0-1
Description: has triggers pending

Package: adduser
Status: unknown ok installed
Maintainer: Fleet Maintainers <fleet@example.org>
Architecture: all
Version: 3.134
Description: add and remove users and groups
`;

async function dpkgQuery(admindir: string): Promise<string> {
  const { stdout } = await runDpkgTool("dpkg-query", [
    `--admindir=${admindir}`,
    "-W",
    `-f=${dpkgQueryFormat(LISTING_FIELDS)}`,
  ]);
  return stdout;
}

async function database(name: string, status: string | null): Promise<string> {
  const admindir = join(work, name);
  await mkdir(join(admindir, "updates"), { recursive: true });
  await mkdir(join(admindir, "info"), { recursive: true });
  if (status !== null) await writeFile(join(admindir, "status"), status);
  return admindir;
}

it("lists what dpkg-query lists, field for field", async () => {
  const admindir = await database("varied", STATUS);
  const mine = await listingFromStatusFile(admindir);
  expect(mine).not.toBeNull();
  expect(mine).toBe(await dpkgQuery(admindir));
});

it.each([
  ["an empty status file", ""],
  ["no status file", null],
])("agrees with dpkg-query on %s", async (_what, status) => {
  const admindir = await database(`empty-${status === null ? "none" : "blank"}`, status);
  expect(await listingFromStatusFile(admindir)).toBe(await dpkgQuery(admindir));
});

it("leaves the answer to dpkg-query while dpkg has journal entries pending", async () => {
  const admindir = await database("pending", STATUS);
  await writeFile(join(admindir, "updates", "0001"), "Package: adduser\nStatus: install ok installed\n");
  expect(await listingFromStatusFile(admindir)).toBeNull();
});
