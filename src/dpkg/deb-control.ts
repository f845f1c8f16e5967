import { closeSync, openSync, readSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ValidationError } from "../domain/errors.js";
import { type Deb822Paragraph, deb822Paragraphs, deb822Single } from "./deb822.js";

/** The control fields the agent checks before it installs a .deb. */
export interface DebControlFields {
  name: string;
  version: string;
  arch: string;
}

const AR_MAGIC = "!<arch>\n";
const AR_HEADER = 60;
/** A control archive is a few KiB; past this, leave it to dpkg-deb. */
const MAX_CONTROL_BYTES = 4 * 1024 * 1024;

/** The `control` file of a tar archive (ustar or old-style), or null. */
function controlFromTar(tar: Buffer): string | null {
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return null;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = Number.parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim(), 8);
    if (!Number.isFinite(size) || size < 0) return null;
    const type = String.fromCharCode(header[156] ?? 0);
    const body = at + 512;
    if ((type === "0" || type === "\0") && (name === "./control" || name === "control")) {
      return tar.subarray(body, body + size).toString("utf8");
    }
    at = body + Math.ceil(size / 512) * 512;
  }
  return null;
}

/** Package, Version and Architecture of the first paragraph of a control file. */
function fieldsOf(control: string): DebControlFields | null {
  let first: Deb822Paragraph | undefined;
  try {
    [first] = deb822Paragraphs(control, (line) => `control:${line}`);
  } catch (err) {
    if (err instanceof ValidationError) return null;
    throw err;
  }
  if (first === undefined) return null;
  const name = deb822Single(first, "package")?.value;
  const version = deb822Single(first, "version")?.value;
  if (!name || !version) return null;
  return { name, version, arch: deb822Single(first, "architecture")?.value ?? "" };
}

/** Bytes read at once from an archive's start. */
const HEAD_BYTES = 64 * 1024;

/**
 * Reads the control fields of a .deb in-process when its control member is gzip or uncompressed (what
 * dpkg-deb builds with `-Zgzip` or `-Znone`), so that checking an artifact costs no process. Null for
 * anything else (xz, zstd, an odd archive): dpkg-deb then answers, as the only judge of what it holds.
 */
export async function readDebControl(path: string): Promise<DebControlFields | null> {
  // Synchronous reads: a package just downloaded is in the page cache, and the promise API's
  // FileHandle (open, read, close) cost several times the reading itself.
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    // The archive's start holds the headers and, in a small package, the control member too: one
    // read of it answers most files.
    const head = Buffer.alloc(HEAD_BYTES);
    const headBytes = readSync(fd, head, 0, HEAD_BYTES, 0);
    const read = async (position: number, length: number): Promise<Buffer> => {
      if (position + length <= headBytes || headBytes < HEAD_BYTES) {
        return head.subarray(Math.min(position, headBytes), Math.min(position + length, headBytes));
      }
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
    };
    if ((await read(0, AR_MAGIC.length)).toString("latin1") !== AR_MAGIC) return null;
    let at = AR_MAGIC.length;
    // debian-binary comes first, then control.tar.*: look no further than the second member.
    for (let member = 0; member < 2; member++) {
      const header = await read(at, AR_HEADER);
      if (header.length < AR_HEADER || header.subarray(58, 60).toString("latin1") !== "`\n") return null;
      const name = header.subarray(0, 16).toString("latin1").trim().replace(/\/$/, "");
      const size = Number.parseInt(header.subarray(48, 58).toString("latin1").trim(), 10);
      if (!Number.isFinite(size) || size < 0) return null;
      const body = at + AR_HEADER;
      if (name === "control.tar.gz" || name === "control.tar") {
        if (size > MAX_CONTROL_BYTES) return null;
        const bytes = await read(body, size);
        if (bytes.length !== size) return null;
        const tar =
          name === "control.tar" ? bytes : gunzipSync(bytes, { maxOutputLength: MAX_CONTROL_BYTES });
        const control = controlFromTar(tar);
        return control === null ? null : fieldsOf(control);
      }
      if (name.startsWith("control.tar")) return null;
      at = body + size + (size % 2);
    }
    return null;
  } catch {
    // A malformed member: dpkg-deb says what is wrong with it.
    return null;
  } finally {
    closeSync(fd);
  }
}
