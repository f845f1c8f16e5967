import { statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { Presets, SingleBar } from "cli-progress";
import Table from "cli-table3";
import type { Command } from "commander";
import { type Finding, failsAt, scanPackages } from "../../advisories/scan/findings.js";
import { jsonReport, type ScanSummary, scanSummary } from "../../advisories/scan/json-report.js";
import { knownExploitedIds } from "../../advisories/scan/kev-ids.js";
import { loadAdvisories } from "../../advisories/scan/load-advisories.js";
import { toSarif } from "../../advisories/scan/sarif.js";
import { ValidationError } from "../../domain/errors.js";
import { releaseWarnings, requireKnownRelease } from "../../inventory/distro-releases.js";
import {
  detectInventoryFormat,
  type InventoryFormat,
  parseInventory,
} from "../../inventory/importers/index.js";
import { splitEcosystem } from "../../inventory/purl.js";
import { DEFAULT_POLICY } from "../../policy/default-policy.js";
import { CHANGE_CLASSES, type ChangeClass } from "../../policy/schema.js";
import { reportError } from "../output.js";

const FORMATS = ["table", "json", "sarif"] as const;
type ScanFormat = (typeof FORMATS)[number];

/** Malformed advisories listed on stderr before the rest are only counted. */
const MAX_LISTED = 100;

interface ScanFlags {
  advisories?: string;
  dpkgStatus?: string;
  sbom?: string;
  ecosystem?: string;
  format: string;
  failOn?: string;
  kev?: string;
  output?: string;
  base?: string;
}

interface Inventory {
  file: string;
  kind: "dpkg" | "sbom";
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(`"${value}" is not one of ${allowed.join(", ")}`, { where: flag });
  }
  return value as T;
}

function inventoryOf(flags: ScanFlags): Inventory {
  if (flags.dpkgStatus !== undefined && flags.sbom !== undefined) {
    throw new ValidationError("give --dpkg-status or --sbom, not both", { where: "--sbom" });
  }
  if (flags.dpkgStatus !== undefined) return { file: flags.dpkgStatus, kind: "dpkg" };
  if (flags.sbom !== undefined) return { file: flags.sbom, kind: "sbom" };
  throw new ValidationError("an inventory is required: --dpkg-status FILE or --sbom FILE", {
    where: "--dpkg-status",
  });
}

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ValidationError(`cannot read ${flag} file: ${err.code ?? err.message}`, { where: file });
  });
}

/** A counter or bar on stderr while a TTY watches and the report is for people; otherwise nothing. */
function progressBar(enabled: boolean, format: string): SingleBar | null {
  if (!enabled) return null;
  return new SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: true, fps: 10 },
    Presets.shades_classic,
  );
}

function tableText(findings: readonly Finding[], summary: ScanSummary): string {
  const table = new Table({
    head: ["PACKAGE", "VERSION", "VULNERABILITY", "FIXED", "SEVERITY", "CLASS"],
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const f of findings) {
    table.push([
      f.package.name,
      f.package.version,
      f.vulnId,
      f.fixed ?? "(no fix yet)",
      f.severity === null ? "" : f.severity.toFixed(1),
      f.knownExploited ? `${f.class} (KEV)` : f.class,
    ]);
  }
  const c = summary.byClass;
  const line =
    `${summary.findings} findings (${c.emergency} emergency, ${c.high} high, ${c.routine} routine) in ` +
    `${summary.vulnerablePackages} of ${summary.packages} packages; ` +
    `${summary.advisories.records} advisories read, ${summary.advisories.malformed} malformed`;
  return findings.length === 0 ? `${line}\n` : `${table.toString()}\n${line}\n`;
}

async function runScan(flags: ScanFlags, format: ScanFormat, toolVersion: string): Promise<void> {
  if (flags.advisories === undefined) {
    throw new ValidationError("--advisories is required: an OSV .json/.jsonl file, a directory or a .zip", {
      where: "--advisories",
    });
  }
  const inventory = inventoryOf(flags);
  const failOn =
    flags.failOn === undefined ? undefined : oneOf<ChangeClass>(flags.failOn, CHANGE_CLASSES, "--fail-on");
  if (flags.ecosystem !== undefined) {
    if (inventory.kind !== "dpkg") {
      throw new ValidationError("--ecosystem applies to --dpkg-status only (SBOMs name their ecosystems)", {
        where: "--ecosystem",
      });
    }
    const base = splitEcosystem(flags.ecosystem).base;
    if (base !== "Debian" && base !== "Ubuntu") {
      throw new ValidationError(
        `"${flags.ecosystem}" is not Debian or Ubuntu (e.g. Debian:12, Ubuntu:22.04)`,
        {
          where: "--ecosystem",
        },
      );
    }
    requireKnownRelease(flags.ecosystem, "--ecosystem");
  }

  if (flags.base !== undefined && !statSync(flags.base, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ValidationError(`--base ${flags.base} is not a directory`, { where: "--base" });
  }
  // Inputs first: a bad inventory or KEV file fails before the (longer) advisory load.
  const text = await readText(inventory.file, inventory.kind === "dpkg" ? "--dpkg-status" : "--sbom");
  const inventoryFormat: InventoryFormat =
    inventory.kind === "dpkg" ? "dpkg" : detectInventoryFormat(text, basename(inventory.file));
  if (inventory.kind === "sbom" && inventoryFormat === "dpkg") {
    throw new ValidationError(
      "--sbom expects CycloneDX or SPDX JSON; use --dpkg-status for a dpkg status file",
      {
        where: inventory.file,
      },
    );
  }
  const parsed = parseInventory(text, {
    format: inventoryFormat,
    file: inventory.file,
    ...(flags.ecosystem === undefined ? {} : { ecosystem: flags.ecosystem }),
  });
  const knownExploited =
    flags.kev === undefined ? undefined : knownExploitedIds(await readText(flags.kev, "--kev"), flags.kev);
  for (const warning of releaseWarnings(parsed.packages)) process.stderr.write(`warning: ${warning}\n`);

  const interactive = format === "table" && process.stderr.isTTY === true;
  const loading = progressBar(interactive, "loading advisories: {value} records, {malformed} malformed");
  loading?.start(0, 0, { malformed: 0 });
  const advisories = await loadAdvisories(flags.advisories, (p) =>
    loading?.update(p.records, { malformed: p.malformed }),
  );
  loading?.stop();
  const listed = advisories.malformed.slice(0, MAX_LISTED);
  for (const m of listed)
    process.stderr.write(`warning: malformed advisory skipped: ${m.where}: ${m.message}\n`);
  if (advisories.malformed.length > listed.length) {
    process.stderr.write(
      `warning: … and ${advisories.malformed.length - listed.length} more malformed advisories\n`,
    );
  }

  const matching = progressBar(interactive, "matching |{bar}| {value}/{total} packages");
  matching?.start(parsed.packages.length, 0);
  const result = scanPackages(parsed.packages, advisories.index, {
    policy: DEFAULT_POLICY,
    ...(knownExploited === undefined ? {} : { knownExploited }),
    ...(matching === null ? {} : { onProgress: (done: number) => matching.update(done) }),
  });
  matching?.stop();

  const summary = scanSummary(result, advisories, parsed.skipped.length);
  const report =
    format === "json"
      ? `${JSON.stringify(jsonReport(result, summary), null, 2)}\n`
      : format === "sarif"
        ? `${JSON.stringify(toSarif(result.findings, { inventoryPath: inventory.file, toolName: "autopatch", toolVersion, ...(flags.base === undefined ? {} : { base: flags.base }) }), null, 2)}\n`
        : tableText(result.findings, summary);
  if (flags.output === undefined) process.stdout.write(report);
  else {
    await writeFile(flags.output, report, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`cannot write the report: ${err.code ?? err.message}`, {
        where: flags.output,
      });
    });
  }
  if (failOn !== undefined && failsAt(result.findings, failOn)) process.exitCode = 1;
}

/** Registers `autopatch scan`: an offline vulnerability scan of one inventory file. */
export function registerScanCommand(program: Command): void {
  program
    .command("scan")
    .description(
      "Scan a dpkg status file or an SBOM against OSV advisories offline: no server, no store.\n" +
        "Findings are classified by the built-in policy (emergency, high, routine). Exit status: 0, or 1 when\n" +
        "--fail-on finds a finding of that class or a more urgent one; 2 on bad input (with where).",
    )
    .option(
      "--advisories <path>",
      "OSV advisories: a .json or .jsonl file, a directory or an osv.dev .zip export",
    )
    .option("--dpkg-status <file>", "a dpkg status database, e.g. /var/lib/dpkg/status")
    .option("--sbom <file>", "a CycloneDX (1.2–1.6) or SPDX 2.x JSON SBOM")
    .option(
      "--ecosystem <name>",
      "OSV ecosystem of the dpkg packages, e.g. Debian:12 or Ubuntu:22.04 (default: Debian, no release)",
    )
    .option("--format <format>", `output: ${FORMATS.join(", ")}`, "table")
    .option("--fail-on <class>", `exit 1 on a finding of this class or above: ${CHANGE_CLASSES.join(", ")}`)
    .option("--kev <file>", "CISA KEV catalog JSON: findings of known-exploited CVEs become emergencies")
    .option("--output <file>", "write the report to this file instead of stdout")
    .option(
      "--base <dir>",
      "SARIF: give the inventory's path relative to this directory (e.g. the repository root), as uriBaseId SRCROOT",
    )
    .action(async (flags: ScanFlags) => {
      let format: ScanFormat = "table";
      try {
        format = oneOf(flags.format, FORMATS, "--format");
        await runScan(flags, format, program.version() ?? "0.0.0");
      } catch (err) {
        // Scripts that asked for JSON or SARIF get the error as JSON on stderr too.
        process.exitCode = reportError(err, format !== "table");
      }
    });
}
