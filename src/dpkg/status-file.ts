import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "../domain/errors.js";
import {
  type Deb822Paragraph,
  deb822Paragraphs,
  deb822Single,
  STATUS_FLAGS,
  STATUS_STATES,
  STATUS_WANTS,
} from "./deb822.js";

/** A journal entry dpkg has not folded into `status` yet: only dpkg-query knows how to apply it. */
const PENDING_UPDATE = /^\d+$/;

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The status database at `admindir` as `dpkg-query -W` prints it in LISTING_FIELDS
 * (src/dpkg/package-listing.ts), read in-process: spawning a process from a large one (an agent
 * beside its host's services, a test fleet's agents in one process) costs more than reading the file.
 * Null when dpkg-query must answer instead: journal entries pending in `updates/` (a dpkg run that
 * stopped early), or anything in the file this reader does not know.
 */
export async function listingFromStatusFile(admindir: string): Promise<string | null> {
  // Synchronous reads of one local folder and file (read again only after the database changed): the
  // promise API's open, stat, read and close round trips cost more CPU than the reads themselves.
  let pending: string[];
  try {
    pending = readdirSync(join(admindir, "updates"));
  } catch {
    pending = [];
  }
  if (pending.some((name) => PENDING_UPDATE.test(name))) return null;
  let text: string;
  try {
    text = readFileSync(join(admindir, "status"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
  let paragraphs: Deb822Paragraph[];
  try {
    paragraphs = deb822Paragraphs(text, (line) => `status:${line}`);
  } catch (err) {
    if (err instanceof ValidationError) return null;
    throw err;
  }
  const lines: { name: string; arch: string; line: string }[] = [];
  for (const p of paragraphs) {
    const field = (key: string) => deb822Single(p, key)?.value;
    const name = field("package");
    const status = field("status");
    if (!name || status === undefined) return null;
    const [want = "", flag = "", state = "", ...extra] = status.split(/\s+/);
    const abbrev = `${STATUS_WANTS[want] ?? ""}${STATUS_STATES[state] ?? ""}${STATUS_FLAGS[flag] ?? ""}`;
    if (extra.length > 0 || abbrev.length !== 3) return null;
    // dpkg-query lists what dpkg knows of beyond "not-installed" (purged stanzas linger until rewritten).
    if (state === "not-installed") continue;
    const version = field("version") ?? "";
    const arch = field("architecture") ?? "";
    const source = /^(\S+)(?:\s+\((.+)\))?$/.exec(field("source") ?? "");
    const sameArch = field("multi-arch") === "same";
    const binary = sameArch && arch !== "" ? `${name}:${arch}` : name;
    const row = [binary, name, version, arch, source?.[1] ?? name, source?.[2] ?? version, state, abbrev];
    if (row.some((v) => v.includes("\t"))) return null;
    lines.push({ name, arch, line: row.join("\t") });
  }
  lines.sort((a, b) => cmp(a.name, b.name) || cmp(a.arch, b.arch));
  return lines.map((l) => `${l.line}\n`).join("");
}
