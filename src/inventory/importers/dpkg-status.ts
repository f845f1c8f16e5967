/**
 * dpkg status database (/var/lib/dpkg/status): deb822 paragraphs (src/dpkg/deb822.ts) of installed
 * packages.
 */
import { ValidationError } from "../../domain/errors.js";
import type { PackageRecord } from "../../domain/inventory.js";
import {
  deb822Paragraphs,
  deb822Single,
  STATUS_FLAGS,
  STATUS_STATES,
  STATUS_WANTS,
} from "../../dpkg/deb822.js";
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
  for (const p of deb822Paragraphs(text, where)) {
    const pkg = deb822Single(p, "package");
    if (!pkg?.value) throw new ValidationError("paragraph has no Package field", { where: where(p.line) });
    const status = deb822Single(p, "status");
    if (status === undefined) {
      skipped.push({ where: where(p.line), reason: `${pkg.value}: no Status field` });
      continue;
    }
    const [want = "", flag = "", state = "", ...extra] = status.value.split(/\s+/);
    if (
      extra.length > 0 ||
      !Object.hasOwn(STATUS_WANTS, want) ||
      !Object.hasOwn(STATUS_FLAGS, flag) ||
      !Object.hasOwn(STATUS_STATES, state)
    ) {
      throw new ValidationError(
        `invalid Status "${status.value}": expected "<want> <flag> <state>" such as "install ok installed"`,
        { where: where(status.line) },
      );
    }
    if (!dpkgStateIsInstalled(state)) {
      skipped.push({ where: where(p.line), reason: `${pkg.value}: status "${status.value}"` });
      continue;
    }
    const version = deb822Single(p, "version");
    if (!version?.value) {
      throw new ValidationError(`installed package "${pkg.value}" has no Version field`, {
        where: where(p.line),
      });
    }
    const arch = deb822Single(p, "architecture")?.value || null;
    let sourceName: string | null = null;
    let sourceVersion: string | null = null;
    const source = deb822Single(p, "source");
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
