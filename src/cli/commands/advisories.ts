import { open, readFile, stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename } from "node:path";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import type { AdvisoryDetail, AdvisoryPage, AdvisorySummary } from "../../advisories/catalog.js";
import { type EpssEntry, parseEpssCsv } from "../../advisories/epss.js";
import { type ClassMove, movesText } from "../../advisories/findings/class-moves.js";
import {
  ADVISORY_KINDS,
  type AdvisoryKind,
  detectAdvisoryKind,
} from "../../advisories/ingest/detect-kind.js";
import {
  type BatchResult,
  importParsedRecords,
  MAX_BATCH_RECORDS,
} from "../../advisories/ingest/import-batch.js";
import { type EpssSummary, importEpss } from "../../advisories/ingest/import-epss.js";
import { importKev, type KevSummary } from "../../advisories/ingest/import-kev.js";
import {
  importOsvStream,
  type StreamOptions,
  type StreamProgress,
  type StreamSummary,
} from "../../advisories/ingest/osv-stream.js";
import { type KevCatalog, parseKevDocument } from "../../advisories/kev.js";
import { readOsvSource } from "../../advisories/osv/read.js";
import type { OsvRecord } from "../../advisories/osv/schema.js";
import { NotFoundError, ValidationError } from "../../domain/errors.js";
import type { Actor } from "../../domain/roles.js";
import { serviceContext } from "../../service/context.js";
import { createLogger } from "../../service/logger.js";
import { openStore } from "../../store/store.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { formatAge, formatTime } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

interface ImportFlags extends ClientFlags {
  kind?: string;
  batch: string;
  database?: string;
  force?: boolean;
}

/** Rejections listed in the human summary; --json lists them all. */
const REJECTIONS_SHOWN = 20;
/** How much of a JSONL file is read to tell its kind: it is never read whole for that. */
const SNIFF_BYTES = 64 * 1024;

/** Where an import writes: the server's API, or a store opened directly (offline). */
interface ImportTarget {
  osvBatch(records: OsvRecord[], source: string): ReturnType<StreamOptions["send"]>;
  kev(catalog: KevCatalog, force: boolean): Promise<KevSummary>;
  epss(csv: string, entries: EpssEntry[], file: string, force: boolean): Promise<EpssSummary>;
  close(): Promise<void>;
}

function serverTarget(flags: ImportFlags): ImportTarget {
  const client = clientFrom(flags);
  return {
    osvBatch: (records, source) => client.post<BatchResult>("/api/v1/advisories/batch", { source, records }),
    kev: (catalog, force) =>
      client.post<KevSummary>(`/api/v1/advisories/kev${force ? "?force=true" : ""}`, catalog),
    epss: (csv, _entries, file, force) =>
      client.post<EpssSummary>(`/api/v1/advisories/epss${force ? "?force=true" : ""}`, { csv, file }),
    close: async () => {},
  };
}

async function storeTarget(url: string): Promise<ImportTarget> {
  const store = await openStore(url);
  const ctx = serviceContext(
    store,
    createLogger({ level: process.env.AUTOPATCH_LOG_LEVEL ?? "warn", pretty: false }),
  );
  // Offline writes are audited as the local user who ran them.
  const name = `local:${userInfo().username}`;
  const actor: Actor = { kind: "user", id: name, name, principal: name, role: "admin", assetId: null };
  return {
    osvBatch: (records, source) => importParsedRecords(ctx, actor, records, source),
    kev: (catalog, force) => importKev(ctx, actor, catalog, { force }),
    epss: (_csv, entries, file, force) => importEpss(ctx, actor, entries, file, { force }),
    close: () => store.close(),
  };
}

async function readHead(path: string, bytes: number): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** The kind of a path: directories and archives are OSV; a file is told by its content. */
async function detectKind(path: string): Promise<AdvisoryKind> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new NotFoundError(`cannot read it: ${err.code ?? err.message}`, { where: path });
  });
  const lower = path.toLowerCase();
  if (info.isDirectory() || lower.endsWith(".zip")) return "osv";
  return detectAdvisoryKind(
    lower.endsWith(".jsonl") ? await readHead(path, SNIFF_BYTES) : await readFile(path, "utf8"),
  );
}

function progressBar(enabled: boolean): { update(p: StreamProgress): void; stop(): void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: "OSV records [{bar}] {value}/{total} | {rate}/s | {duration_formatted}",
    barsize: 30,
    hideCursor: true,
  });
  const started = Date.now();
  // Started on the first report: an empty bar with a total of 0 would draw as full.
  let running = false;
  return {
    update: ({ read, done }) => {
      const seconds = (Date.now() - started) / 1000;
      const rate = seconds > 0 ? Math.round(done / seconds).toString() : "0";
      if (!running) {
        running = true;
        bar.start(read, done, { rate });
      }
      bar.setTotal(read);
      bar.update(done, { rate });
    },
    stop: () => {
      if (running) bar.stop();
    },
  };
}

function printOsvSummary(summary: StreamSummary, path: string): void {
  const shown = summary.rejected.slice(0, REJECTIONS_SHOWN);
  for (const r of shown) process.stderr.write(`rejected ${r.where}: ${r.message}\n`);
  if (summary.rejected.length > shown.length) {
    process.stderr.write(
      `… and ${summary.rejected.length - shown.length} more rejected (--json lists all)\n`,
    );
  }
  process.stdout.write(
    `${path}: ${summary.records} records; ${summary.added} added, ${summary.updated} updated, ` +
      `${summary.unchanged} unchanged, ${summary.retired} retired, ${summary.rejected.length} rejected; ` +
      `${summary.gitRanges} GIT ranges stored but not evaluated\n`,
  );
  printClassMoves(summary.classMoves);
}

/** "findings moved class: 2 routine → emergency"; nothing when none moved (or the server is older). */
function printClassMoves(moves: readonly ClassMove[] | undefined): void {
  const text = movesText(moves);
  if (text !== "") process.stdout.write(`findings moved class: ${text}\n`);
}

async function importOsv(
  path: string,
  target: ImportTarget,
  batchSize: number,
  json: boolean,
): Promise<number> {
  const source = basename(path);
  const bar = progressBar(process.stderr.isTTY === true && !json);
  let summary: StreamSummary;
  try {
    summary = await importOsvStream(readOsvSource(path), {
      batchSize,
      send: (records) => target.osvBatch(records, source),
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.stop();
  }
  if (summary.records === 0) throw new ValidationError("no OSV records found", { where: path });
  if (json) printJson({ source, ...summary });
  else printOsvSummary(summary, path);
  return summary.rejected.length === summary.records ? 2 : 0;
}

/** The first two packages and how many more: a list row stays one line. */
function packagesText(packages: AdvisorySummary["packages"]): string {
  const names = packages.slice(0, 2).map((p) => `${p.ecosystem}/${p.name}`);
  return packages.length > 2 ? `${names.join(", ")} (+${packages.length - 2})` : names.join(", ");
}

interface RangeView {
  type: string;
  events: Array<Record<string, string | undefined>>;
}

/** A record's ranges as intervals: `[0, 1.2.3)` fixed in 1.2.3, `[0, 1.2.3]` last affected, `[2.0, ∞)`. */
function rangesText(affected: unknown): string {
  const ranges = (affected as { ranges?: RangeView[] } | undefined)?.ranges ?? [];
  const out: string[] = [];
  for (const range of ranges) {
    let start: string | null = null;
    for (const event of range.events) {
      const end = event.fixed ?? event.limit;
      if (event.introduced !== undefined) {
        if (start !== null) out.push(`[${start}, ∞)`);
        start = event.introduced;
      } else if (end !== undefined) {
        out.push(`[${start ?? "0"}, ${end})`);
        start = null;
      } else if (event.last_affected !== undefined) {
        out.push(`[${start ?? "0"}, ${event.last_affected}]`);
        start = null;
      }
    }
    if (start !== null) out.push(`[${start}, ∞)`);
    if (range.type === "GIT") out.push("(GIT: not evaluated)");
  }
  return out.join(" ");
}

function parseBatchFlag(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH_RECORDS) {
    throw new ValidationError(`--batch must be a whole number from 1 to ${MAX_BATCH_RECORDS}`, {
      where: "--batch",
    });
  }
  return n;
}

export function registerAdvisoriesCommand(program: Command): void {
  const advisories = program
    .command("advisories")
    .description("Import OSV advisories, the CISA KEV catalog and EPSS scores; list and show advisories");

  withClientFlags(
    advisories
      .command("import <path>")
      .description(
        "Import OSV records (a .json or .jsonl file, a directory or an osv.dev .zip export), CISA's KEV\n" +
          "catalog JSON or an EPSS CSV; the kind is told from the content unless --kind says it.\n" +
          "OSV records go in batches: a malformed record is reported with its file and JSON pointer and\n" +
          "nothing of it is stored; the rest are imported. Exits 2 when every record was rejected.\n" +
          "A KEV catalog older than the stored one, or one that removes more than 50 entries or 10 %,\n" +
          "is refused unless --force.\n" +
          "--database writes straight to a store, with no server (offline bulk loads).",
      )
      .option("--kind <kind>", `one of ${ADVISORY_KINDS.join(", ")} (default: detected)`)
      .option("--batch <n>", "OSV records per batch", "500")
      .option("--database <url>", "import into this store directly instead of through the server")
      .option(
        "--force",
        "import a KEV catalog or EPSS file older than the stored one, or a KEV catalog that removes many entries",
      ),
  ).action(async (path: string, flags: ImportFlags) => {
    if (flags.kind !== undefined && !(ADVISORY_KINDS as readonly string[]).includes(flags.kind)) {
      throw new ValidationError(`unknown kind "${flags.kind}": use ${ADVISORY_KINDS.join(", ")}`, {
        where: "--kind",
      });
    }
    const batchSize = parseBatchFlag(flags.batch);
    const kind = (flags.kind as AdvisoryKind | undefined) ?? (await detectKind(path));
    // Parse KEV and EPSS files before connecting: a bad file fails with its own path and line.
    const text = kind === "osv" ? "" : await readFile(path, "utf8");
    const kev = kind === "kev" ? parseKevDocument(text, path) : null;
    const epss = kind === "epss" ? parseEpssCsv(text, path) : null;
    const target = flags.database ? await storeTarget(flags.database) : serverTarget(flags);
    try {
      if (kev) {
        const summary = await target.kev(kev, flags.force === true);
        if (flags.json) return printJson({ kind, ...summary });
        process.stdout.write(
          `KEV catalog ${summary.catalogVersion}: ${summary.total} entries; ${summary.added} added, ` +
            `${summary.removed} removed, ${summary.changed} changed, ${summary.unchanged} unchanged\n`,
        );
        printClassMoves(summary.classMoves);
        return;
      }
      if (epss) {
        const summary = await target.epss(text, epss, basename(path), flags.force === true);
        if (flags.json) return printJson({ kind, ...summary });
        process.stdout.write(
          `EPSS scores${summary.scoreDate ? ` of ${summary.scoreDate}` : ""}: ${summary.total} CVEs; ` +
            `${summary.added} added, ${summary.updated} updated, ${summary.unchanged} unchanged, ` +
            `${summary.removed ?? 0} removed\n`,
        );
        printClassMoves(summary.classMoves);
        return;
      }
      process.exitCode = await importOsv(path, target, batchSize, flags.json === true);
    } finally {
      await target.close();
    }
  });

  withClientFlags(
    advisories
      .command("list")
      .description("List advisories, filtered by ecosystem, package or id/alias (pages with --after)")
      .option("--ecosystem <name>", "OSV ecosystem, e.g. Go, PyPI, Debian:12")
      .option("--package <name>", "package name as the advisory spells it")
      .option("--id <id>", "an advisory id or alias (CVE-…, GHSA-…)")
      .option("--limit <n>", "advisories per page (max 1000)", "100")
      .option("--after <id>", "continue after this advisory id"),
  ).action(
    async (
      flags: ClientFlags & {
        ecosystem?: string;
        package?: string;
        id?: string;
        limit: string;
        after?: string;
      },
    ) => {
      const query = new URLSearchParams({ limit: flags.limit });
      for (const key of ["ecosystem", "package", "id", "after"] as const) {
        const value = flags[key];
        if (value !== undefined) query.set(key, value);
      }
      const answer = await clientFrom(flags).get<{ items: AdvisorySummary[]; next: string | null }>(
        `/api/v1/advisories?${query}`,
      );
      // `next` stays the last advisory's id, as `--after` takes it.
      const page: AdvisoryPage = {
        advisories: answer.items,
        next: answer.next === null ? null : (answer.items.at(-1)?.id ?? null),
      };
      if (flags.json) return printJson(page);
      printTable<AdvisorySummary>(page.advisories, [
        { header: "ID", value: (a) => a.id },
        { header: "ALIASES", value: (a) => a.aliases.join(","), wide: true },
        { header: "SEVERITY", value: (a) => a.severity.score },
        { header: "MODIFIED", value: (a) => formatAge(a.modified) },
        { header: "WITHDRAWN", value: (a) => formatTime(a.withdrawn), wide: true },
        { header: "PACKAGES", value: (a) => packagesText(a.packages) },
        {
          header: "SUMMARY",
          value: (a) => (a.summary.length > 60 ? `${a.summary.slice(0, 59)}…` : a.summary),
        },
      ]);
      if (page.next !== null) process.stdout.write(`more: --after ${page.next}\n`);
    },
  );

  withClientFlags(
    advisories
      .command("show <id>")
      .description("Show one advisory (by id, or by an alias only it has) with its KEV and EPSS facts"),
  ).action(async (id: string, flags: ClientFlags) => {
    const advisory = await clientFrom(flags).get<AdvisoryDetail>(
      `/api/v1/advisories/${encodeURIComponent(id)}`,
    );
    if (flags.json) return printJson(advisory);
    printFields([
      ["id", advisory.id],
      ["aliases", advisory.aliases.join(", ")],
      ["summary", advisory.summary],
      ["published", advisory.published ?? ""],
      ["modified", advisory.modified],
      ["withdrawn", advisory.withdrawn ?? ""],
      [
        "severity",
        advisory.severity.score === null
          ? ""
          : `${advisory.severity.score} (CVSS ${advisory.severity.version}) ${advisory.severity.vector}`,
      ],
      [
        "kev",
        advisory.kev
          .map(
            (k) =>
              `${k.cve} added ${k.dateAdded}, due ${k.dueDate ?? "-"}${k.knownRansomwareUse ? ", ransomware" : ""}`,
          )
          .join("; "),
      ],
      ["epss", advisory.epss.map((e) => `${e.cve} ${e.epss} (percentile ${e.percentile})`).join("; ")],
      ["git ranges", String(advisory.gitRanges)],
      ["source", advisory.source],
    ]);
    const affected = (advisory.record.affected as unknown[] | undefined) ?? [];
    printTable(
      advisory.packages.map((p, i) => ({ ...p, ranges: rangesText(affected[i]) })),
      [
        { header: "ECOSYSTEM", value: (p) => p.ecosystem },
        { header: "RELEASE", value: (p) => p.release },
        { header: "NAME", value: (p) => p.name },
        { header: "AFFECTED", value: (p) => p.ranges },
      ],
    );
  });
}
