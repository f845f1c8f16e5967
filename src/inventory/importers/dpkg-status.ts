/**
 * dpkg status database (/var/lib/dpkg/status): deb822 paragraphs of `Field: value` lines. Hand-written:
 * no maintained npm package parses deb822 with line numbers, and the format is a few lines of rules.
 */
import { ValidationError } from "../../domain/errors.js";
import type { PackageRecord } from "../../domain/inventory.js";
import { requireKnownRelease } from "../distro-releases.js";
import { requireOneVersionPerPackage } from "../one-version.js";
import { packageToPurl, splitEcosystem } from "../purl.js";
import { dpkgStateIsInstalled } from "./dpkg-installed.js";
import { DEFAULT_INPUT_NAME, dedupePackages, type ImportResult, type SkippedEntry } from "./import-result.js";

export interface DpkgStatusOptions {
  /** Shown in `where` as `file:line`. */
  file?: string;
  /** OSV ecosystem: "Debian" (default), "Debian:12", "Ubuntu:22.04", … */
  ecosystem?: string;
  /** purl `distro` qualifier, e.g. "debian-12" or "bookworm"; derived from the ecosystem when absent. */
  distro?: string;
}

// The three words of the Status field, from dpkg-query(1) "Package information" / dpkg(1).
const WANTS = new Set(["unknown", "install", "hold", "deinstall", "purge"]);
const FLAGS = new Set(["ok", "reinstreq"]);
const STATES = new Set([
  "not-installed",
  "config-files",
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending",
  "installed",
]);

interface Field {
  value: string;
  line: number;
}

interface Paragraph {
  line: number;
  fields: Map<string, Field>;
}

// deb822 field names: printable US-ASCII but ":" and space, not starting with "#" or "-".
const FIELD_NAME = /^[!-9;-~]+$/;

/** Splits deb822 text into paragraphs, keeping each field's first line number. */
function paragraphs(text: string, where: (line: number) => string): Paragraph[] {
  const out: Paragraph[] = [];
  let current: Paragraph | null = null;
  let last: Field | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") {
      current = null;
      last = null;
      return;
    }
    if (raw.startsWith(" ") || raw.startsWith("\t")) {
      if (last === null) {
        throw new ValidationError("continuation line (starting with a space or tab) before any field", {
          where: where(line),
        });
      }
      last.value += `\n${raw.slice(1)}`;
      return;
    }
    const colon = raw.indexOf(":");
    if (colon < 0) {
      throw new ValidationError('expected "Field: value" but the line has no colon', { where: where(line) });
    }
    const name = raw.slice(0, colon);
    if (!FIELD_NAME.test(name) || name.startsWith("#") || name.startsWith("-")) {
      throw new ValidationError(`invalid field name "${name}"`, { where: where(line) });
    }
    if (current === null) {
      current = { line, fields: new Map() };
      out.push(current);
    }
    // deb822 field names are case-insensitive.
    const key = name.toLowerCase();
    const seen = current.fields.get(key);
    if (seen) {
      throw new ValidationError(`duplicate field "${name}" (first on line ${seen.line})`, {
        where: where(line),
      });
    }
    last = { value: raw.slice(colon + 1).trim(), line };
    current.fields.set(key, last);
  });
  return out;
}

/** First line of a field's value, trimmed (multi-line fields such as Description are not needed here). */
function single(p: Paragraph, name: string): Field | undefined {
  const f = p.fields.get(name);
  return f === undefined ? undefined : { value: (f.value.split("\n")[0] ?? "").trim(), line: f.line };
}

/** Parses a dpkg status database into installed packages (state installed, whatever the want; see dpkg-installed.ts). */
export function parseDpkgStatus(text: string, options: DpkgStatusOptions = {}): ImportResult {
  const file = options.file ?? DEFAULT_INPUT_NAME;
  const where = (line: number) => `${file}:${line}`;
  const ecosystem = options.ecosystem ?? "Debian";
  const base = splitEcosystem(ecosystem).base;
  if (base !== "Debian" && base !== "Ubuntu") {
    throw new ValidationError(
      `dpkg ecosystem must be Debian or Ubuntu (optionally ":release"), not "${ecosystem}"`,
      {
        where: "ecosystem",
      },
    );
  }
  requireKnownRelease(ecosystem, "ecosystem");

  const records: PackageRecord[] = [];
  const versionLines: number[] = [];
  const skipped: SkippedEntry[] = [];
  for (const p of paragraphs(text, where)) {
    const pkg = single(p, "package");
    if (!pkg?.value) throw new ValidationError("paragraph has no Package field", { where: where(p.line) });
    const status = single(p, "status");
    if (status === undefined) {
      skipped.push({ where: where(p.line), reason: `${pkg.value}: no Status field` });
      continue;
    }
    const [want = "", flag = "", state = "", ...extra] = status.value.split(/\s+/);
    if (extra.length > 0 || !WANTS.has(want) || !FLAGS.has(flag) || !STATES.has(state)) {
      throw new ValidationError(
        `invalid Status "${status.value}": expected "<want> <flag> <state>" such as "install ok installed"`,
        { where: where(status.line) },
      );
    }
    if (!dpkgStateIsInstalled(state)) {
      skipped.push({ where: where(p.line), reason: `${pkg.value}: status "${status.value}"` });
      continue;
    }
    const version = single(p, "version");
    if (!version?.value) {
      throw new ValidationError(`installed package "${pkg.value}" has no Version field`, {
        where: where(p.line),
      });
    }
    const arch = single(p, "architecture")?.value || null;
    let sourceName: string | null = null;
    let sourceVersion: string | null = null;
    const source = single(p, "source");
    if (source !== undefined) {
      // "Source: name" or "Source: name (version)" when the source version differs from the binary's.
      const m = /^(\S+)(?:\s+\(([^()\s]+)\))?$/.exec(source.value);
      if (!m?.[1]) {
        throw new ValidationError(`invalid Source "${source.value}": expected "name" or "name (version)"`, {
          where: where(source.line),
        });
      }
      sourceName = m[1];
      sourceVersion = m[2] ?? version.value;
    }
    versionLines.push(version.line);
    records.push({
      ecosystem,
      name: pkg.value,
      version: version.value,
      sourceName,
      sourceVersion,
      arch,
      purl: packageToPurl({
        ecosystem,
        name: pkg.value,
        version: version.value,
        arch,
        distro: options.distro ?? null,
      }),
    });
  }
  requireOneVersionPerPackage(records, (i) => where(versionLines[i] ?? 0));
  return { packages: dedupePackages(records), skipped };
}
