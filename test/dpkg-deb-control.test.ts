/**
 * The in-process reading of a .deb's control fields against dpkg-deb (the reference), on packages
 * built by dpkg-deb with each compressor: gzip and none are read in-process with dpkg-deb's answer,
 * xz is left to dpkg-deb; a file that is no .deb is left to it too.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readDebControl } from "../src/dpkg/deb-control.js";
import { debFields } from "../src/dpkg/package-state.js";
import { runDpkgTool } from "../src/dpkg/tool.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "autopatch-deb-control-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function build(compressor: string, postinst?: string): Promise<string> {
  const dir = join(work, `pkg-${compressor}${postinst === undefined ? "" : "-big"}`);
  await mkdir(join(dir, "DEBIAN"), { recursive: true });
  await mkdir(join(dir, "usr/share/doc/demo"), { recursive: true });
  await writeFile(join(dir, "usr/share/doc/demo/README"), "demo\n");
  await writeFile(
    join(dir, "DEBIAN/control"),
    [
      "Package: demo-tool",
      "Version: 2:1.4.0~rc1-3+deb12u1",
      "Architecture: all",
      "Maintainer: Fleet Maintainers <fleet@example.org>",
      "Description: a demo",
      " with a long description",
      " .",
      " over several lines",
      "",
    ].join("\n"),
  );
  if (postinst !== undefined) await writeFile(join(dir, "DEBIAN/postinst"), postinst, { mode: 0o755 });
  const deb = join(work, `demo-${compressor}${postinst === undefined ? "" : "-big"}.deb`);
  await runDpkgTool("dpkg-deb", ["--root-owner-group", `-Z${compressor}`, "--build", dir, deb]);
  return deb;
}

it.each(["gzip", "none"])("reads a %s control archive as dpkg-deb does", async (compressor) => {
  const deb = await build(compressor);
  const mine = await readDebControl(deb);
  const { stdout } = await runDpkgTool("dpkg-deb", ["-f", "--", deb, "Package", "Version", "Architecture"]);
  expect(stdout).toContain(`Package: ${mine?.name}\n`);
  expect(stdout).toContain(`Version: ${mine?.version}\n`);
  expect(stdout).toContain(`Architecture: ${mine?.arch}\n`);
  expect(mine).toEqual({ name: "demo-tool", version: "2:1.4.0~rc1-3+deb12u1", arch: "all" });
});

it("reads a control archive that runs past the first read of the file", async () => {
  // Random text compresses little: the control member ends well beyond the archive's first 64 KiB.
  const script = `#!/bin/sh\n# ${randomBytes(120 * 1024).toString("base64")}\nexit 0\n`;
  const deb = await build("gzip", script);
  expect((await stat(deb)).size).toBeGreaterThan(96 * 1024);
  expect(await readDebControl(deb)).toEqual({
    name: "demo-tool",
    version: "2:1.4.0~rc1-3+deb12u1",
    arch: "all",
  });
});

it("leaves an xz control archive, and a file that is no .deb, to dpkg-deb", async () => {
  const deb = await build("xz");
  expect(await readDebControl(deb)).toBeNull();
  expect(await debFields(deb)).toEqual({ name: "demo-tool", version: "2:1.4.0~rc1-3+deb12u1", arch: "all" });
  const junk = join(work, "junk.deb");
  await writeFile(junk, "!<arch>\nnot really\n");
  expect(await readDebControl(junk)).toBeNull();
});
