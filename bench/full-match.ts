/**
 * Full-match benchmark: a SQLite store with N assets × P Debian 12 packages and A advisories, then a
 * full fleet re-match (rematchAll), a second one with nothing changed, and incremental re-matches of
 * one asset (an inventory change of a few packages, and the whole asset).
 *
 *   npx tsx bench/full-match.ts [--assets 10000] [--packages 600] [--advisories 100000]
 *                               [--open-share 0.0008] [--runs 200] [--json] [--no-record] [--keep]
 *                               [--setup-only] [--from FILE] [--trace]
 *
 * `--setup-only` builds the store and keeps it; `--from FILE` measures a copy of such a store instead of
 * building one (the setup takes a minute and more), so changes to the re-match can be compared back to
 * back on the same input. `--trace` prints, for the first full run, the wall and CPU time of each phase
 * and the time of each SQL statement (summed over its runs, from the store's statement trace) to stderr.
 *
 * Setup writes rows straight into the SQLite file (its time is not a figure). The measurements run in
 * a child process, so its peak RSS is the re-match's and not the setup's.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import SQLite from "better-sqlite3";
import { pino } from "pino";
import { parseEpssCsv } from "../src/advisories/epss.js";
import { rematchAll, rematchAsset } from "../src/advisories/findings/rematch.js";
import { getVulnerability } from "../src/advisories/findings/vulnerability.js";
import { parseKevCatalog } from "../src/advisories/kev.js";
import { entriesOf } from "../src/advisories/matching/advisory-index.js";
import { type OsvRecord, parseOsvRecord } from "../src/advisories/osv/schema.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { canonicalPackageSet, packageContentKey, packageSetDigest } from "../src/domain/package-set.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { parseDpkgStatus } from "../src/inventory/importers/dpkg-status.js";
import { packageDictionary } from "../src/inventory/package-dictionary.js";
import { replaceInventory, storedPackages } from "../src/inventory/report.js";
import { DEFAULT_SERVICE_CONFIG, type ServiceContext } from "../src/service/context.js";
import { type StatementStats, statementTrace } from "../src/store/statement-cache.js";
import { openStore } from "../src/store/store.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const DATA = join(HERE, "..", "test", "fixtures", "data");

interface Params {
  assets: number;
  packages: number;
  advisories: number;
  openShare: number;
  runs: number;
  json: boolean;
  record: boolean;
  keep: boolean;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

interface MeasureResult {
  /** Wall time of each phase of the first and the second full run, in order. */
  phases: { full: Array<[string, number]>; rerun: Array<[string, number]> };
  full: Timing & {
    maxRssMiB: number;
    /** Peak RSS over both full runs (the second holds the stored findings too). */
    maxRssBothMiB: number;
    findings: number;
    opened: number;
    packages: number;
    evaluated: number;
  };
  rerun: Timing & { unchanged: number; changed: number };
  /** A full re-match after the incremental runs' reports: only their sets moved. */
  afterReports: Timing & { changed: number; packages: number };
  incremental: { runs: number; packagesChanged: number; p50: number; p99: number; max: number };
  wholeAsset: { runs: number; p50: number; p99: number; max: number };
  byCve: { runs: number; p50: number; p99: number; max: number };
  findingsPerAsset: { min: number; median: number; max: number };
  dbMiB: number;
}

// ---- deterministic random numbers (setup must be the same on every run) ----------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- setup ---------------------------------------------------------------------------------------

function realRecords(): OsvRecord[] {
  const dir = join(DATA, "osv");
  const out: OsvRecord[] = [];
  for (const file of readdirSync(dir).sort()) {
    const path = join(dir, file);
    const values: unknown[] = file.endsWith(".jsonl")
      ? readFileSync(path, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as unknown)
      : file.endsWith(".json")
        ? [JSON.parse(readFileSync(path, "utf8")) as unknown]
        : [];
    for (const [i, value] of values.entries()) {
      try {
        out.push(parseOsvRecord(value, { file, pointerBase: `/${i}` }));
      } catch {
        // A handful of real records fail validation (see SOURCES.md); the import skips them too.
      }
    }
  }
  return out;
}

const VECTORS = [
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
  "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
  "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
];

interface Source {
  name: string;
  version: string;
}

/** Debian 12 per-CVE advisories (the CVE in `upstream`), one source package each, fixed below or above the installed version. */
function generatedRecords(
  count: number,
  sources: readonly Source[],
  openShare: number,
  random: () => number,
) {
  const records: Record<string, unknown>[] = [];
  const openCves: string[] = [];
  for (let i = 0; i < count; i++) {
    const source = sources[Math.floor(random() * sources.length)] as Source;
    const cve = `CVE-${2005 + (i % 21)}-${String(100000 + i)}`;
    const open = random() < openShare;
    if (open) openCves.push(cve);
    // Most advisories were fixed long ago (a version below the installed one sorts with "~");
    // the open ones are fixed in a later update ("+", above it) or not fixed yet.
    const fixed = open
      ? random() < 0.6
        ? `${source.version}+fix${1 + (i % 3)}`
        : null
      : `${source.version}~hist${i}`;
    const severity = random() < 0.7 ? [{ type: "CVSS_V3", score: VECTORS[i % VECTORS.length] }] : undefined;
    records.push({
      id: `DEBIAN-${cve}`,
      modified: "2026-08-01T00:00:00Z",
      published: "2026-07-01T00:00:00Z",
      summary: `${source.name}: generated benchmark advisory`,
      upstream: [cve],
      ...(severity ? { severity } : {}),
      affected: [
        {
          package: { ecosystem: "Debian:12", name: source.name },
          ranges: [
            { type: "ECOSYSTEM", events: fixed ? [{ introduced: "0" }, { fixed }] : [{ introduced: "0" }] },
          ],
        },
      ],
    });
  }
  return { records, openCves };
}

const SETUP_BATCH = 2500;

async function setup(path: string, p: Params): Promise<{ setupMs: number; realAdvisories: number }> {
  const started = performance.now();
  const store = await openStore(`sqlite:${path}`);
  await store.close();
  const db = new SQLite(path);
  db.pragma("journal_mode = WAL");
  // Setup only: durability does not matter for a throwaway file.
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -262144");
  const random = prng(42);

  const pool: PackageRecord[] = parseDpkgStatus(
    readFileSync(join(DATA, "dpkg", "debian12-bookworm-node-image.status"), "utf8"),
    { ecosystem: "Debian:12" },
  ).packages;
  const sourceVersions = new Map<string, string>();
  for (const pkg of pool) sourceVersions.set(pkg.sourceName ?? pkg.name, pkg.sourceVersion ?? pkg.version);
  const sources = [...sourceVersions].map(([name, version]) => ({ name, version }));

  const now = "2026-11-20T10:00:00.000Z";
  const insertAsset = db.prepare(
    "insert into assets (id, name, kind, environment, group_name, region, owner, criticality, labels, agent_status, created_at, updated_at, last_seen_at) values (?, ?, 'host', ?, ?, 'eu', '', ?, ?, 'active', ?, ?, ?)",
  );
  // The store's layout (see src/store/migrations/0015-package-dictionary.ts): each distinct package once,
  // one set row per asset, and the inverted index.
  const insertPackage = db.prepare(
    "insert into packages (ecosystem, name, version, arch, source_name, source_version, purl) values (?, ?, ?, ?, ?, ?, ?) returning id",
  );
  const insertSet = db.prepare(
    "insert into package_sets (asset_id, package_ids, digest, total, updated_at) values (?, ?, ?, ?, ?) returning num",
  );
  // One statement per set instead of one per pair: 12,000,000 pairs at 20,000 assets.
  const insertPairs = db.prepare(
    "insert into asset_packages (package_id, set_num) select value, ? from json_each(?)",
  );
  const packageIds = new Map<string, number>();
  const count = Math.min(p.packages, pool.length);
  const assetBatch = db.transaction((from: number, to: number) => {
    for (let a = from; a < to; a++) {
      const id = randomUUID();
      const labels: Record<string, string> = {};
      if (random() < 0.15) labels.exposure = "internet";
      if (random() < 0.1) labels.data = "pii";
      insertAsset.run(
        id,
        `host-${String(a).padStart(6, "0")}`,
        random() < 0.7 ? "prod" : "staging",
        `g${a % 20}`,
        1 + Math.floor(random() * 5),
        JSON.stringify(labels),
        now,
        now,
        now,
      );
      // A different subset of the image's packages per host, ~10 % of them updated past recent fixes
      // and ~3 % older: hosts differ the way a real fleet drifts.
      const indexes = pool.map((_, i) => i);
      for (let i = indexes.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
      }
      const set: PackageRecord[] = [];
      for (const i of indexes.slice(0, count)) {
        const pkg = pool[i] as PackageRecord;
        const roll = random();
        const suffix = roll < 0.1 ? "+upd1" : roll < 0.13 ? "~old1" : "";
        const version = `${pkg.version}${suffix}`;
        set.push({
          ecosystem: pkg.ecosystem,
          name: pkg.name,
          version,
          arch: pkg.arch ?? "",
          // Without a Source field, a Debian package is its own source (name and version).
          sourceName: pkg.sourceName ?? pkg.name,
          sourceVersion: `${pkg.sourceVersion ?? pkg.version}${suffix}`,
          purl: `pkg:deb/debian/${pkg.name}@${encodeURIComponent(version)}?arch=${pkg.arch ?? "all"}&distro=debian-12`,
        });
      }
      const canonical = [...canonicalPackageSet(set).values()];
      const ids = canonical.map((c) => {
        const key = packageContentKey(c);
        let pid = packageIds.get(key);
        if (pid === undefined) {
          const row = insertPackage.get(
            c.ecosystem,
            c.name,
            c.version,
            c.arch,
            c.sourceName,
            c.sourceVersion,
            c.purl,
          ) as { id: number };
          pid = row.id;
          packageIds.set(key, pid);
        }
        return pid;
      });
      ids.sort((x, y) => x - y);
      const { num } = insertSet.get(
        id,
        JSON.stringify(ids),
        packageSetDigest(canonical),
        ids.length,
        now,
      ) as {
        num: number;
      };
      insertPairs.run(num, JSON.stringify(ids));
    }
  });
  // Large transactions: a commit per 200 assets made the 20,000-asset setup take most of an hour.
  for (let a = 0; a < p.assets; a += SETUP_BATCH) assetBatch(a, Math.min(p.assets, a + SETUP_BATCH));

  const real = realRecords();
  const { records: generated, openCves } = generatedRecords(
    Math.max(0, p.advisories - real.length),
    sources,
    p.openShare,
    random,
  );
  const insertAdvisory = db.prepare(
    "insert into advisories (id, modified, published, withdrawn, summary, aliases, severity_score, severity_vector, severity_version, git_ranges, record, source, imported_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 'bench', ?)",
  );
  const insertEntry = db.prepare(
    "insert into advisory_packages (advisory_id, idx, ecosystem, ecosystem_release, name, affected) values (?, ?, ?, ?, ?, ?)",
  );
  const insertAlias = db.prepare("insert or ignore into advisory_aliases (alias, advisory_id) values (?, ?)");
  const store1 = db.transaction((records: readonly OsvRecord[]) => {
    for (const record of records) {
      const entries = entriesOf(record);
      const severity = entries[0]?.severity ?? { score: null, vector: null, version: null };
      insertAdvisory.run(
        record.id,
        record.modified,
        record.published ?? null,
        record.withdrawn ?? null,
        record.summary ?? "",
        JSON.stringify(record.aliases ?? []),
        severity.score,
        severity.vector,
        severity.version,
        JSON.stringify(record),
        now,
      );
      if (record.withdrawn === undefined) {
        entries.forEach((e, idx) => {
          insertEntry.run(
            record.id,
            idx,
            e.ecosystem,
            e.ecosystemRelease,
            e.name,
            JSON.stringify(e.affected),
          );
        });
      }
      for (const alias of new Set([record.id, ...(record.aliases ?? [])])) insertAlias.run(alias, record.id);
    }
  });
  store1(real);
  for (let i = 0; i < generated.length; i += 5000) {
    store1(
      generated
        .slice(i, i + 5000)
        .map((r, j) => parseOsvRecord(r, { file: "generated", pointerBase: `/${i + j}` })),
    );
  }

  // The real KEV catalog and EPSS scores, plus KEV entries for 2 % of the open generated CVEs and an
  // EPSS score for every generated one, so the exploitation facts are looked up at full scale.
  const kev = parseKevCatalog(
    readFileSync(join(DATA, "kev", "known_exploited_vulnerabilities.json"), "utf8"),
  );
  const insertKev = db.prepare(
    "insert or ignore into kev_entries (cve, vendor, product, name, date_added, due_date, ransomware, catalog_version) values (?, ?, ?, ?, ?, ?, 0, 'bench')",
  );
  const insertEpss = db.prepare(
    "insert or replace into epss_scores (cve, epss, percentile, score_date) values (?, ?, ?, '2026-08-22')",
  );
  db.transaction(() => {
    for (const k of kev)
      insertKev.run(k.cveID, k.vendorProject, k.product, k.vulnerabilityName, k.dateAdded, k.dueDate);
    for (const cve of openCves.filter((_, i) => i % 50 === 0))
      insertKev.run(cve, "bench", "bench", cve, "2026-08-01", null);
    for (const e of parseEpssCsv(readFileSync(join(DATA, "epss", "kev_epss_cvss_2026-08-22.csv"), "utf8")))
      insertEpss.run(e.cve, e.epss, e.percentile);
    for (const r of generated) {
      const cve = String(r.id).replace(/^DEBIAN-/, "");
      const epss = random() ** 6;
      insertEpss.run(cve, Number(epss.toFixed(5)), epss);
    }
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { setupMs: performance.now() - started, realAdvisories: real.length };
}

// ---- measurement (child process) -----------------------------------------------------------------

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function timed<T>(fn: () => Promise<T>): Promise<{ value: T } & Timing> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  return fn().then((value) => {
    const used = process.cpuUsage(cpu);
    return { value, wallMs: performance.now() - t, cpuMs: (used.user + used.system) / 1000 };
  });
}

/**
 * The first run's phases (wall and CPU) and its costliest SQL statements, from the store's own
 * statement trace (AUTOPATCH_STATEMENT_TRACE, set for the measuring process by `--trace`): the
 * statements' runs and time since `before`, placeholder lists of any length read as one statement.
 */
function printTrace(
  before: ReadonlyMap<string, StatementStats>,
  phases: ReadonlyArray<[string, number, number]>,
  total: Timing,
): void {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const out = [`first full run: ${s(total.wallMs)} s wall, ${s(total.cpuMs)} s CPU`];
  for (const [name, wall, cpu] of phases) out.push(`  ${name}: ${s(wall)} s wall, ${s(cpu)} s CPU`);
  const byText = new Map<string, StatementStats>();
  for (const [sql, stats] of statementTrace()) {
    const runs = stats.runs - (before.get(sql)?.runs ?? 0);
    const ms = stats.ms - (before.get(sql)?.ms ?? 0);
    if (runs === 0) continue;
    const text = sql.replace(/\?(, \?)+/g, "?…").replace(/\(\?…\)(, \(\?…\))+/g, "(…)…");
    const entry = byText.get(text) ?? { runs: 0, ms: 0 };
    entry.runs += runs;
    entry.ms += ms;
    byText.set(text, entry);
  }
  const list = [...byText].sort((a, b) => b[1].ms - a[1].ms);
  const sqlMs = list.reduce((sum, [, e]) => sum + e.ms, 0);
  out.push(`SQL statements: ${s(sqlMs)} s; the costliest (ms, runs, statement):`);
  for (const [text, e] of list.slice(0, 20))
    out.push(`  ${e.ms.toFixed(0).padStart(6)}  ${String(e.runs).padStart(5)}  ${text.slice(0, 160)}`);
  process.stderr.write(`${out.join("\n")}\n`);
}

async function measure(path: string, runs: number, traced = false): Promise<MeasureResult> {
  const store = await openStore(`sqlite:${path}`);
  const ctx: ServiceContext = {
    store,
    logger: pino({ level: "silent" }),
    config: { ...DEFAULT_SERVICE_CONFIG },
    now: () => new Date(),
  };
  const phases: MeasureResult["phases"] = { full: [], rerun: [] };
  const phaseCpu: Array<[string, number, number]> = [];
  let lastCpu = process.cpuUsage();
  const traceBefore = traced ? new Map([...statementTrace()].map(([sql, st]) => [sql, { ...st }])) : null;
  const full = await timed(() =>
    rematchAll(ctx, {
      onPhase: (name, ms) => {
        phases.full.push([name, ms]);
        const used = process.cpuUsage(lastCpu);
        lastCpu = process.cpuUsage();
        phaseCpu.push([name, ms, (used.user + used.system) / 1000]);
      },
    }),
  );
  if (traceBefore) printTrace(traceBefore, phaseCpu, full);
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const findings = Number(
    (
      await store.db
        .selectFrom("findings")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );
  const rerun = await timed(() => rematchAll(ctx, { onPhase: (name, ms) => phases.rerun.push([name, ms]) }));
  const maxRssBothMiB = process.resourceUsage().maxRSS / 1024;

  const perAsset = (
    await store.db
      .selectFrom("findings")
      .select((eb) => ["asset_id", eb.fn.countAll().as("n")])
      .groupBy("asset_id")
      .execute()
  )
    .map((r) => Number(r.n))
    .sort((a, b) => a - b);

  const assets = await store.db.selectFrom("assets").select("id").execute();
  const random = prng(7);
  const pick = () => (assets[Math.floor(random() * assets.length)] as { id: string }).id;

  // An inventory change: three packages of one asset move to a newer version, as a report would
  // write them; rematchAsset gets the changed rows as replaceInventory passes them.
  const incremental: number[] = [];
  const CHANGED = 3;
  // The first runs compile code and fill caches; a running server is past them.
  const WARM_UP = 10;
  for (let r = 0; r < runs + WARM_UP; r++) {
    const assetId = pick();
    await store.db.transaction().execute(async (trx) => {
      const dictionary = packageDictionary(store.db).session();
      const { packages } = await storedPackages(trx, assetId, dictionary);
      const list = [...packages.values()];
      const every = Math.floor(list.length / CHANGED);
      const next = list.map((pkg, i) =>
        i % every === 0 && i / every < CHANGED
          ? { ...pkg, version: `${pkg.version}+r${r}`, sourceVersion: `${pkg.sourceVersion}+r${r}` }
          : pkg,
      );
      const t = performance.now();
      await replaceInventory(trx, SYSTEM_ACTOR, { id: assetId, name: "bench" }, next, "agent", new Date(), {
        dictionary,
      });
      if (r >= WARM_UP) incremental.push(performance.now() - t);
      dictionary.commit();
    });
  }
  const afterReports = await timed(() => rematchAll(ctx));
  // "Which assets have CVE-X?": the vulnerability view (its counts and first page) of a CVE that
  // some assets have.
  const cves = (
    await store.db.selectFrom("findings").select("vuln_id").distinct().orderBy("vuln_id").limit(500).execute()
  ).map((r) => r.vuln_id);
  if (cves.length === 0) {
    throw new Error(
      "no asset has a finding: raise --advisories or --open-share so that the CVE look-up has one to ask for",
    );
  }
  const byCve: number[] = [];
  for (let r = 0; r < runs + WARM_UP; r++) {
    const cve = cves[Math.floor(random() * cves.length)] as string;
    const t = performance.now();
    await getVulnerability(ctx, cve);
    if (r >= WARM_UP) byCve.push(performance.now() - t);
  }
  byCve.sort((a, b) => a - b);
  const whole: number[] = [];
  for (let r = 0; r < Math.max(5, Math.floor(runs / 10)); r++) {
    const assetId = pick();
    await store.db.transaction().execute(async (trx) => {
      const t = performance.now();
      await rematchAsset(trx, assetId, new Date());
      whole.push(performance.now() - t);
    });
  }
  await store.close();
  incremental.sort((a, b) => a - b);
  whole.sort((a, b) => a - b);
  const size = [path, `${path}-wal`].filter(existsSync).reduce((s, f) => s + statSync(f).size, 0);
  return {
    phases,
    full: {
      wallMs: full.wallMs,
      cpuMs: full.cpuMs,
      maxRssMiB,
      maxRssBothMiB,
      findings,
      opened: full.value.opened,
      packages: full.value.packages,
      evaluated: full.value.stats.evaluated,
    },
    rerun: {
      wallMs: rerun.wallMs,
      cpuMs: rerun.cpuMs,
      unchanged: rerun.value.unchanged,
      changed: rerun.value.opened + rerun.value.updated + rerun.value.fixed + rerun.value.reopened,
    },
    afterReports: {
      wallMs: afterReports.wallMs,
      cpuMs: afterReports.cpuMs,
      changed:
        afterReports.value.opened +
        afterReports.value.updated +
        afterReports.value.fixed +
        afterReports.value.reopened,
      packages: afterReports.value.packages,
    },
    incremental: {
      runs: incremental.length,
      packagesChanged: CHANGED,
      p50: quantile(incremental, 0.5),
      p99: quantile(incremental, 0.99),
      max: incremental.at(-1) ?? 0,
    },
    byCve: {
      runs: byCve.length,
      p50: quantile(byCve, 0.5),
      p99: quantile(byCve, 0.99),
      max: byCve.at(-1) ?? 0,
    },
    wholeAsset: {
      runs: whole.length,
      p50: quantile(whole, 0.5),
      p99: quantile(whole, 0.99),
      max: whole.at(-1) ?? 0,
    },
    findingsPerAsset: {
      min: perAsset[0] ?? 0,
      median: quantile(perAsset, 0.5),
      max: perAsset.at(-1) ?? 0,
    },
    dbMiB: size / 1024 / 1024,
  };
}

// ---- driver --------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function machine(): string {
  const model = cpus()[0]?.model.trim() ?? "unknown CPU";
  return `${cpus().length} vCPUs (${model}), ${fmt(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
}

function report(
  p: Params,
  s: { setupMs: number; realAdvisories: number },
  m: MeasureResult,
  load: number[],
): string {
  const goal = (ok: boolean) => (ok ? "met" : "**missed**");
  return [
    "## Full match",
    "",
    `\`npx tsx bench/full-match.ts --assets ${p.assets} --packages ${p.packages} --advisories ${p.advisories} --open-share ${p.openShare}\``,
    `(usage in the file's header): ${fmt(p.assets)} assets × ${fmt(p.packages)} Debian 12 packages`,
    `(${fmt(p.assets * p.packages)} installed rows, SQLite file ${fmt(m.dbMiB)} MiB) against ${fmt(p.advisories)} advisories`,
    `(${fmt(s.realAdvisories)} real from test/fixtures/data/osv, the rest generated Debian 12 ones).`,
    "",
    `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}. Load average before the`,
    `measurements ${load.map((l) => l.toFixed(1)).join(" / ")} (1 / 5 / 15 min): the machine is shared, so wall`,
    "times can be several times the CPU time; both are given.",
    "",
    "| Measurement | Wall | CPU | Goal |",
    "| --- | ---: | ---: | --- |",
    `| full re-match, empty findings (rematchAll) | ${fmt(m.full.wallMs / 1000, 1)} s | ${fmt(m.full.cpuMs / 1000, 1)} s | ≤ 5 s: ${goal(m.full.wallMs <= 5_000)} |`,
    `| peak RSS of the measuring process, first run / both runs | ${fmt(m.full.maxRssMiB)} / ${fmt(m.full.maxRssBothMiB)} MiB | | ≤ 1 GiB: ${goal(m.full.maxRssBothMiB <= 1024)} |`,
    `| full re-match again, nothing changed | ${fmt(m.rerun.wallMs / 1000, 1)} s | ${fmt(m.rerun.cpuMs / 1000, 1)} s | ≤ 1 s: ${goal(m.rerun.wallMs <= 1_000)} |`,
    `| inventory report of one asset, ${m.incremental.packagesChanged} packages changed, with its re-match (p50 / p99 / max of ${m.incremental.runs}, after 10 warm-up runs) | ${fmt(m.incremental.p50, 1)} / ${fmt(m.incremental.p99, 1)} / ${fmt(m.incremental.max, 1)} ms | | ≤ 20 ms: ${goal(m.incremental.p99 <= 20)} (p99) |`,
    `| full re-match after the ${fmt(m.incremental.runs + 10)} reports above (their sets only; ${fmt(m.afterReports.packages)} package versions matched, ${fmt(m.afterReports.changed)} findings changed) | ${fmt(m.afterReports.wallMs / 1000, 2)} s | ${fmt(m.afterReports.cpuMs / 1000, 2)} s | |`,
    `| which assets have CVE-X (getVulnerability: counts and first page of 100; p50 / p99 / max of ${m.byCve.runs}) | ${fmt(m.byCve.p50, 1)} / ${fmt(m.byCve.p99, 1)} / ${fmt(m.byCve.max, 1)} ms | | ≤ 50 ms: ${goal(m.byCve.p99 <= 50)} (p99) |`,
    `| rematchAsset, whole asset (p50 / p99 / max of ${m.wholeAsset.runs}) | ${fmt(m.wholeAsset.p50)} / ${fmt(m.wholeAsset.p99)} / ${fmt(m.wholeAsset.max)} ms | | |`,
    "",
    `Findings written: ${fmt(m.full.findings)} (per asset min / median / max: ${m.findingsPerAsset.min} / ${m.findingsPerAsset.median} / ${m.findingsPerAsset.max}).`,
    `Distinct package versions evaluated: ${fmt(m.full.packages)}; (package, affected entry) evaluations: ${fmt(m.full.evaluated)}.`,
    `The second run skipped every set (${fmt(m.rerun.unchanged)} findings unchanged as recorded) and changed ${fmt(m.rerun.changed)}. Setup (not a figure): ${fmt(s.setupMs / 1000)} s.`,
    "",
    "Where the time goes (wall time of each phase of rematchAll, from its onPhase callback):",
    "",
    "| Phase | First run | Nothing changed |",
    "| --- | ---: | ---: |",
    ...m.phases.full.map(([name, ms]) => {
      const again = m.phases.rerun.find(([n]) => n === name)?.[1];
      return `| ${name} | ${fmt(ms / 1000, 1)} s | ${again === undefined ? "" : `${fmt(again / 1000, 1)} s`} |`;
    }),
    "",
  ].join("\n");
}

/**
 * Puts the figures at the top of the "Full match" section of RESULTS.md, replacing the previous ones;
 * the section's written analysis (its ### subsections) and every other section are kept.
 */
function record(section: string): void {
  const file = join(HERE, "RESULTS.md");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = text.indexOf("\n## Full match\n");
  if (start === -1) {
    writeFileSync(file, `${text.trimEnd()}\n\n${section.trimEnd()}\n`);
    return;
  }
  const ends = [text.indexOf("\n### ", start + 1), text.indexOf("\n## ", start + 1)].filter((i) => i !== -1);
  const end = ends.length === 0 ? text.length : Math.min(...ends);
  const rest = text.slice(end).replace(/^\n*/, "\n");
  writeFileSync(file, `${`${text.slice(0, start + 1)}${section.trimEnd()}\n${rest}`.trimEnd()}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      assets: { type: "string", default: "10000" },
      packages: { type: "string", default: "600" },
      advisories: { type: "string", default: "100000" },
      "open-share": { type: "string", default: "0.0008" },
      runs: { type: "string", default: "200" },
      json: { type: "boolean", default: false },
      "no-record": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      "setup-only": { type: "boolean", default: false },
      from: { type: "string" },
      trace: { type: "boolean", default: false },
      phase: { type: "string" },
      db: { type: "string" },
    },
  });
  if (values.phase === "measure") {
    process.stdout.write(
      `${JSON.stringify(await measure(values.db ?? "", Number(values.runs), values.trace))}\n`,
    );
    return;
  }
  const p: Params = {
    assets: Number(values.assets),
    packages: Number(values.packages),
    advisories: Number(values.advisories),
    openShare: Number(values["open-share"]),
    runs: Number(values.runs),
    json: values.json,
    // A copied store's parameters are not these: its figures are not recorded.
    record: !values["no-record"] && values.from === undefined,
    keep: values.keep,
  };
  const log = (line: string) => {
    if (!p.json) process.stderr.write(`${line}\n`);
  };
  const dir = mkdtempSync(join(tmpdir(), "autopatch-full-match-"));
  const path = join(dir, "bench.db");
  try {
    if (values.from === undefined)
      log(`setting up ${p.assets} assets × ${p.packages} packages, ${p.advisories} advisories in ${dir} …`);
    let s: { setupMs: number; realAdvisories: number };
    if (values.from === undefined) s = await setup(path, p);
    else {
      copyFileSync(values.from, path);
      log(`measuring a copy of ${values.from}; its parameters are the ones it was set up with`);
      s = { setupMs: 0, realAdvisories: 0 };
    }
    if (values["setup-only"]) {
      log(`setup took ${fmt(s.setupMs / 1000)} s`);
      p.keep = true;
      return;
    }
    log(`setup took ${fmt(s.setupMs / 1000)} s; measuring in a child process …`);
    const load = loadavg();
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--phase",
        "measure",
        "--db",
        path,
        "--runs",
        String(p.runs),
        ...(values.trace ? ["--trace"] : []),
      ],
      {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        stdio: ["ignore", "pipe", "inherit"],
        env: values.trace ? { ...process.env, AUTOPATCH_STATEMENT_TRACE: "1" } : process.env,
      },
    );
    if (child.status !== 0) throw new Error(`the measuring process failed (exit ${child.status})`);
    const m = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as MeasureResult;
    if (p.json) {
      process.stdout.write(
        `${JSON.stringify({ params: p, setup: s, load, machine: machine(), ...m }, null, 2)}\n`,
      );
    } else {
      const section = report(p, s, m, load);
      process.stdout.write(`${section}\n`);
      if (p.record) {
        record(section);
        log('recorded in bench/RESULTS.md (section "Full match")');
      }
    }
  } finally {
    if (p.keep) log(`kept ${path}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
