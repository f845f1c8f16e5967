/**
 * Offline scan benchmark.
 *
 * 1. The whole `autopatch scan` process (bin/autopatch.js → dist/), as a user runs it, against every
 *    OSV record in test/fixtures/data/osv/: the real Debian 12 dpkg status file and the Juice Shop
 *    CycloneDX SBOM. Wall time is the median of --runs runs.
 * 2. matchPackage throughput in-process against an index of the same records, on synthetic fleets:
 *    packages named after the advisories' own packages (every lookup finds candidates, many match)
 *    and whole Debian 12 hosts (no candidate in this data: the lookup path alone). First pass cold
 *    (version tables built on the way), second pass warm.
 *
 *   npx tsx bench/scan.ts [--runs 3] [--fleet 20000] [--hosts 100] [--json]
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AdvisoryIndex } from "../src/advisories/matching/advisory-index.js";
import { emptyMatchStats, type MatchStats, matchPackage } from "../src/advisories/matching/match.js";
import { readOsvSource } from "../src/advisories/osv/read.js";
import type { OsvRecord } from "../src/advisories/osv/schema.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { parseDpkgStatus } from "../src/inventory/importers/dpkg-status.js";

const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const CLI = path("../bin/autopatch.js");
const BUILT = path("../dist/cli/commands/scan.js");
const OSV = path("../test/fixtures/data/osv");
const DPKG = path("../test/fixtures/data/dpkg/debian12-bookworm-node-image.status");
const SBOM = path("../test/fixtures/data/sbom/cyclonedx/juice-shop-14.1.1.npm.cdx-1.4.json");

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    fleet: { type: "string", default: "20000" },
    hosts: { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(flags.runs);
const FLEET = Number(flags.fleet);
const HOSTS = Number(flags.hosts);

/** mulberry32: a tiny seeded PRNG so every run builds the same fleet. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

// ---------------------------------------------------------------------------------------------------
// 1. The CLI process.

interface ProcessRow {
  inventory: string;
  packages: number;
  findings: number;
  vulnerablePackages: number;
  wallMs: number[];
  medianMs: number;
}

function scanProcess(label: string, inventoryFlag: string, file: string, extra: string[]): ProcessRow {
  const wallMs: number[] = [];
  let summary: { packages: number; findings: number; vulnerablePackages: number } | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = spawnSync(
      process.execPath,
      [CLI, "scan", "--advisories", OSV, inventoryFlag, file, ...extra, "--format", "json"],
      { encoding: "utf8", maxBuffer: 1 << 28 },
    );
    wallMs.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`scan exited ${result.status}: ${result.stderr}`);
    summary = JSON.parse(result.stdout).summary;
  }
  return {
    inventory: label,
    packages: summary?.packages ?? 0,
    findings: summary?.findings ?? 0,
    vulnerablePackages: summary?.vulnerablePackages ?? 0,
    wallMs,
    medianMs: median(wallMs),
  };
}

// ---------------------------------------------------------------------------------------------------
// 2. matchPackage in-process.

interface FleetRow {
  fleet: string;
  pass: "cold" | "warm";
  packages: number;
  matches: number;
  stats: MatchStats;
  wallMs: number;
  cpuMs: number;
  packagesPerSec: number;
}

/** Packages named after the advisories' packages, each at one of the versions its advisories name. */
function advisoryFleet(records: readonly OsvRecord[], size: number): PackageRecord[] {
  const versions = new Map<string, { ecosystem: string; name: string; versions: string[] }>();
  for (const r of records) {
    if (r.withdrawn !== undefined) continue;
    for (const a of r.affected ?? []) {
      const key = `${a.package.ecosystem}\u0000${a.package.name}`;
      const seen = versions.get(key) ?? {
        ecosystem: a.package.ecosystem,
        name: a.package.name,
        versions: [],
      };
      for (const range of a.ranges ?? []) {
        if (range.type === "GIT") continue;
        for (const e of range.events) for (const v of Object.values(e)) if (v !== "0") seen.versions.push(v);
      }
      seen.versions.push(...(a.versions ?? []));
      if (seen.versions.length > 0) versions.set(key, seen);
    }
  }
  const names = [...versions.values()];
  const random = rng(42);
  const fleet: PackageRecord[] = [];
  for (let i = 0; i < size; i++) {
    const n = names[Math.floor(random() * names.length)];
    if (n === undefined) continue;
    const version = n.versions[Math.floor(random() * n.versions.length)] ?? "0";
    fleet.push({ ecosystem: n.ecosystem, name: n.name, version });
  }
  return fleet;
}

function timeFleet(fleet: string, packages: readonly PackageRecord[], index: AdvisoryIndex): FleetRow[] {
  return (["cold", "warm"] as const).map((pass) => {
    const stats = emptyMatchStats();
    let matches = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (const p of packages) matches += matchPackage(p, index, stats).length;
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return {
      fleet,
      pass,
      packages: packages.length,
      matches,
      stats,
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
      packagesPerSec: packages.length / (wallMs / 1000),
    };
  });
}

// ---------------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const machine = {
    date: new Date().toISOString().slice(0, 10),
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeGiB: Math.round(freemem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  };
  const log = (line: string) => {
    if (!flags.json) console.log(line);
  };
  log(
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ` +
      `load ${machine.loadAverage.join(" ")}, ${machine.date}`,
  );

  let processRows: ProcessRow[] = [];
  if (!existsSync(BUILT)) {
    log("\nscan process: skipped (dist/cli/commands/scan.js not found; run `npm run build` first)");
  } else {
    processRows = [
      scanProcess("Debian 12 dpkg status (--ecosystem Debian:12)", "--dpkg-status", DPKG, [
        "--ecosystem",
        "Debian:12",
      ]),
      scanProcess("Juice Shop CycloneDX SBOM (npm)", "--sbom", SBOM, []),
    ];
    log(`\n### autopatch scan --advisories test/fixtures/data/osv (whole process, median of ${RUNS})\n`);
    log("| Inventory | Packages | Findings | Vulnerable packages | Wall s (median) | Runs s |");
    log("| --- | ---: | ---: | ---: | ---: | --- |");
    for (const r of processRows) {
      log(
        `| ${r.inventory} | ${fmt(r.packages)} | ${fmt(r.findings)} | ${fmt(r.vulnerablePackages)} | ` +
          `${fmt(r.medianMs / 1000, 2)} | ${r.wallMs.map((ms) => fmt(ms / 1000, 2)).join(", ")} |`,
      );
    }
  }

  // The same records, loaded in-process, with the load and index build timed on their own.
  const loadStarted = performance.now();
  const records: OsvRecord[] = [];
  let malformed = 0;
  for await (const item of readOsvSource(OSV)) {
    if (item.record !== undefined) records.push(item.record);
    else malformed += 1;
  }
  const readMs = performance.now() - loadStarted;
  const indexStarted = performance.now();
  const index = AdvisoryIndex.fromRecords(records);
  const indexMs = performance.now() - indexStarted;
  log(
    `\nin-process: read and validated ${fmt(records.length)} records (${malformed} malformed) in ${fmt(readMs)} ms; ` +
      `indexed ${fmt(index.size)} affected[] entries in ${fmt(indexMs)} ms`,
  );

  const host = parseDpkgStatus(readFileSync(DPKG, "utf8"), { ecosystem: "Debian:12" }).packages;
  const hosts: PackageRecord[] = [];
  for (let i = 0; i < HOSTS; i++) hosts.push(...host);
  const fleetRows = [
    ...timeFleet(`advisory-named packages (${fmt(FLEET)})`, advisoryFleet(records, FLEET), index),
    ...timeFleet(`Debian 12 hosts (${HOSTS} × ${host.length})`, hosts, index),
  ];
  log("\n### matchPackage throughput (in-process, one thread)\n");
  log("| Fleet | Pass | Packages | Matches | Pairs evaluated | Wall ms | CPU ms | Packages/s |");
  log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of fleetRows) {
    log(
      `| ${r.fleet} | ${r.pass} | ${fmt(r.packages)} | ${fmt(r.matches)} | ${fmt(r.stats.evaluated)} | ` +
        `${fmt(r.wallMs)} | ${fmt(r.cpuMs)} | ${fmt(r.packagesPerSec)} |`,
    );
  }
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          machine,
          process: processRows,
          inProcess: { records: records.length, readMs, indexMs },
          fleets: fleetRows,
        },
        null,
        2,
      ),
    );
  }
}

await main();
