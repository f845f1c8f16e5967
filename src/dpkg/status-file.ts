import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** dpkg-query's one-letter abbreviations of the Status field's words (dpkg-query(1), `db:Status-Abbrev`). */
const WANT: Record<string, string> = { unknown: "u", install: "i", hold: "h", deinstall: "r", purge: "p" };
const STATE: Record<string, string> = {
  "not-installed": "n",
  "config-files": "c",
  "half-installed": "H",
  unpacked: "U",
  "half-configured": "F",
  "triggers-awaited": "W",
  "triggers-pending": "t",
  installed: "i",
};
const FLAG: Record<string, string> = { ok: " ", reinstreq: "R" };

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
  const pending = await readdir(join(admindir, "updates")).catch(() => []);
  if (pending.some((name) => PENDING_UPDATE.test(name))) return null;
  let text: string;
  try {
    text = await readFile(join(admindir, "status"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
  const lines: { name: string; arch: string; line: string }[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    if (paragraph.trim() === "") continue;
    const fields = new Map<string, string>();
    for (const raw of paragraph.split("\n")) {
      if (raw === "" || raw.startsWith(" ") || raw.startsWith("\t")) continue; // continuation lines
      const colon = raw.indexOf(":");
      if (colon <= 0) return null;
      fields.set(raw.slice(0, colon).toLowerCase(), raw.slice(colon + 1).trim());
    }
    const name = fields.get("package");
    const status = fields.get("status");
    if (!name || status === undefined) return null;
    const [want = "", flag = "", state = "", ...extra] = status.split(/\s+/);
    const abbrev = `${WANT[want] ?? ""}${STATE[state] ?? ""}${FLAG[flag] ?? ""}`;
    if (extra.length > 0 || abbrev.length !== 3) return null;
    // dpkg-query lists what dpkg knows of beyond "not-installed" (purged stanzas linger until rewritten).
    if (state === "not-installed") continue;
    const version = fields.get("version") ?? "";
    const arch = fields.get("architecture") ?? "";
    const source = /^(\S+)(?:\s+\((.+)\))?$/.exec(fields.get("source") ?? "");
    const sameArch = fields.get("multi-arch") === "same";
    const binary = sameArch && arch !== "" ? `${name}:${arch}` : name;
    const row = [binary, name, version, arch, source?.[1] ?? name, source?.[2] ?? version, state, abbrev];
    if (row.some((v) => v.includes("\t"))) return null;
    lines.push({ name, arch, line: row.join("\t") });
  }
  lines.sort((a, b) => cmp(a.name, b.name) || cmp(a.arch, b.arch));
  return lines.map((l) => `${l.line}\n`).join("");
}
