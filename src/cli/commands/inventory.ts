import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { ValidationError } from "../../domain/errors.js";
import { releaseWarnings } from "../../inventory/distro-releases.js";
import type { ImportSummary } from "../../inventory/import.js";
import {
  detectInventoryFormat,
  INVENTORY_FORMATS,
  type InventoryFormat,
  parseInventory,
} from "../../inventory/importers/index.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { printJson, printTable } from "../output.js";

interface ImportFlags extends ClientFlags {
  asset?: string;
  format?: string;
  ecosystem?: string;
  distro?: string;
  dryRun?: boolean;
  allowEmpty?: boolean;
}

export function registerInventoryCommand(program: Command): void {
  const inventory = program.command("inventory").description("Import inventories from files");
  withClientFlags(
    inventory
      .command("import <file>")
      .description(
        "Import a dpkg status file, CycloneDX JSON (1.2–1.6) or SPDX 2.x JSON as an asset's inventory.\n" +
          "All or nothing: a bad file is reported with its line or JSON pointer and nothing changes.\n" +
          "A file with no installed packages is refused for an asset that has some, unless --allow-empty.\n" +
          "The asset is created when it does not exist. --dry-run parses the file offline and prints it.",
      )
      .option("--asset <name>", "the asset whose inventory this is")
      .option("--format <format>", `one of ${INVENTORY_FORMATS.join(", ")} (default: detected)`)
      .option(
        "--ecosystem <name>",
        "OSV ecosystem for dpkg files, e.g. Debian:12 or Ubuntu:22.04 (without a release only advisories without one apply)",
      )
      .option("--distro <distro>", "purl distro qualifier for dpkg files, e.g. debian-12")
      .option("--dry-run", "parse and print only; needs no server")
      .option("--allow-empty", "let a file with no installed packages empty an asset that has some"),
  ).action(async (file: string, flags: ImportFlags) => {
    const content = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`cannot read the file: ${err.code ?? err.message}`, { where: file });
    });
    if (flags.format !== undefined && !(INVENTORY_FORMATS as readonly string[]).includes(flags.format)) {
      throw new ValidationError(`unknown format "${flags.format}": use ${INVENTORY_FORMATS.join(", ")}`, {
        where: "--format",
      });
    }
    const format =
      (flags.format as InventoryFormat | undefined) ?? detectInventoryFormat(content, basename(file));
    const options = {
      format,
      file,
      ...(flags.ecosystem ? { ecosystem: flags.ecosystem } : {}),
      ...(flags.distro ? { distro: flags.distro } : {}),
    };
    if (flags.dryRun) {
      const result = parseInventory(content, options);
      const warnings = releaseWarnings(result.packages);
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      if (flags.json) return printJson({ format, ...result, warnings });
      printTable(result.packages, [
        { header: "ECOSYSTEM", value: (p) => p.ecosystem },
        { header: "NAME", value: (p) => p.name },
        { header: "VERSION", value: (p) => p.version },
        { header: "PURL", value: (p) => p.purl, wide: true },
      ]);
      process.stdout.write(
        `${result.packages.length} packages (${format}), ${result.skipped.length} entries skipped\n`,
      );
      return;
    }
    if (!flags.asset)
      throw new ValidationError("--asset is required (or use --dry-run)", { where: "--asset" });
    const summary = await clientFrom(flags).post<ImportSummary>("/api/v1/inventory/import", {
      asset: flags.asset,
      content,
      ...options,
      file: basename(file),
      ...(flags.allowEmpty ? { allowEmpty: true } : {}),
    });
    // Older servers send no warnings.
    for (const warning of summary.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
    if (flags.json) return printJson(summary);
    process.stdout.write(
      `${summary.asset}: ${summary.total} packages (${summary.format})${summary.created ? ", asset created" : ""}; ` +
        `${summary.added} added, ${summary.removed} removed, ${summary.changed} changed` +
        `${summary.skipped.length ? `; ${summary.skipped.length} entries skipped` : ""}\n`,
    );
  });
}
