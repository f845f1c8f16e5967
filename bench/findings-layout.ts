/**
 * What writing the fleet's findings costs per row in candidate layouts, on a store that
 * `bench/full-match.ts --keep` left behind (its findings table full). The stored findings are first
 * copied into memory, with each one's package id and its facts' number (facts: one row per package
 * version, vulnerability and kind of asset); each layout is then a fresh table in a copy of the store,
 * filled from that copy a chunk of 1,000 assets per transaction (as the full re-match commits), with
 * the store's own pragmas. The figures are CPU per row (statements, then commits) and the layout's size.
 *
 *   npx tsx bench/findings-layout.ts --db /tmp/…/bench.db [--only name,name] [--assets 2500]
 */
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import SQLite from "better-sqlite3";

interface Layout {
  name: string;
  /** Statements that create the layout's tables and indexes. */
  create: string[];
  /** Fills the layout for the assets numbered in [lo, hi] of `chunk_assets`. */
  fill: string[];
  drop: string[];
}

const WIDE_COLUMNS =
  "id, asset_id, ecosystem, package_name, arch, installed_version, vuln_id, advisory_ids, aliases, " +
  "fixed_version, severity_score, severity_vector, epss, kev, risk_score, class, status, status_reason, " +
  "status_by, status_expires_at, first_seen, due_at, updated_at";

function wide(name: string, indexes: string[], opts: { fk?: boolean; order?: string } = {}): Layout {
  const t = `lay_${name.replace(/[^a-z0-9]/g, "_")}`;
  return {
    name,
    create: [
      `create table ${t} (id text primary key, asset_id text not null ${opts.fk === false ? "" : "references assets(id) on delete cascade"}, ` +
        "ecosystem text not null, package_name text not null, arch text not null, installed_version text not null, " +
        "vuln_id text not null, advisory_ids text not null, aliases text not null, fixed_version text, " +
        "severity_score real, severity_vector text, epss real, kev integer not null, risk_score real not null, " +
        "class text not null, status text not null, status_reason text, status_by text, status_expires_at text, " +
        "first_seen text not null, due_at text, updated_at text not null)",
      ...indexes.map((cols, i) =>
        cols.startsWith("partial:")
          ? `create index ${t}_i${i} on ${t} (status_expires_at) where status_expires_at is not null`
          : `create ${cols.startsWith("unique:") ? "unique " : ""}index ${t}_i${i} on ${t} (${cols.replace("unique:", "")})`,
      ),
    ],
    fill: [
      `insert into ${t} (${WIDE_COLUMNS}) select ${WIDE_COLUMNS} from temp.src where anum between ? and ? ` +
        (opts.order ?? "order by seq"),
    ],
    drop: [`drop table ${t}`],
  };
}

const IDENTITY_ORDER = "order by asset_id, ecosystem, package_name, arch, installed_version, vuln_id";

const TODAY_INDEXES = [
  "unique:asset_id, ecosystem, package_name, arch, installed_version, vuln_id",
  "vuln_id, status, asset_id",
  "status, class",
  "partial:",
];

/**
 * The facts once per (package version, vulnerability, kind of asset), findings as integers: the
 * set-number and package id of the inverted index, the fact's number, and the per-asset status fields.
 */
function narrow(name: string, opts: { textId: boolean; byVuln: boolean; ts: "text" | "integer" }): Layout {
  const f = `lay_${name.replace(/[^a-z0-9]/g, "_")}`;
  const facts = `${f}_facts`;
  const ts = opts.ts === "text" ? "text" : "integer";
  const at = opts.ts === "text" ? "x.first_seen" : "cast(strftime('%s', x.first_seen) as integer) * 1000";
  return {
    name,
    create: [
      `create table ${facts} (num integer primary key, package_id integer not null, kind text not null, ` +
        "vuln_id text not null, advisory_ids text not null, aliases text not null, fixed_version text, " +
        "severity_score real, severity_vector text, epss real, kev integer not null, risk_score real not null, " +
        "class text not null)",
      `create unique index ${facts}_key on ${facts} (package_id, kind, vuln_id)`,
      `create table ${f} (num integer primary key, ${opts.textId ? "id text not null, " : ""}set_num integer not null, ` +
        `package_id integer not null, fact integer not null, vuln_num integer not null, status text not null, ` +
        `status_reason text, status_by text, status_expires_at ${ts}, first_seen ${ts} not null, due_at ${ts}, ` +
        `updated_at ${ts} not null)`,
      `create unique index ${f}_identity on ${f} (set_num, package_id, vuln_num)`,
      ...(opts.textId ? [`create unique index ${f}_id on ${f} (id)`] : []),
      ...(opts.byVuln ? [`create index ${f}_by_vuln on ${f} (vuln_num, status, set_num)`] : []),
      `create index ${f}_expiring on ${f} (status_expires_at) where status_expires_at is not null`,
    ],
    fill: [
      // The facts the chunk needs that are not stored yet (a real run writes each once per kind).
      `insert or ignore into ${facts} select k.* from temp.facts_src k where k.num in ` +
        "(select fact from temp.src where anum between ? and ?)",
      `insert into ${f} (${opts.textId ? "id, " : ""}set_num, package_id, fact, vuln_num, status, status_reason, ` +
        "status_by, status_expires_at, first_seen, due_at, updated_at) " +
        `select ${opts.textId ? "x.id, " : ""}x.set_num, x.package_id, x.fact, x.vuln_num, x.status, x.status_reason, x.status_by, ` +
        `x.status_expires_at, ${at}, ${at}, ${at} from temp.src x where x.anum between ? and ? order by x.seq`,
    ],
    drop: [`drop table ${f}`, `drop table ${facts}`],
  };
}

const LAYOUTS: Layout[] = [
  wide("today", TODAY_INDEXES),
  wide("today-no-fk", TODAY_INDEXES, { fk: false }),
  wide(
    "no-status-class",
    TODAY_INDEXES.filter((i) => i !== "status, class"),
  ),
  wide(
    "no-status-class-no-fk",
    TODAY_INDEXES.filter((i) => i !== "status, class"),
    { fk: false },
  ),
  wide("identity-only", [TODAY_INDEXES[0] ?? ""]),
  wide("no-index", []),
  wide("today-asset-order", TODAY_INDEXES, { order: IDENTITY_ORDER }),
  wide(
    "asset-order-no-status-class",
    TODAY_INDEXES.filter((i) => i !== "status, class"),
    { order: IDENTITY_ORDER },
  ),
  wide("asset-order-identity-only", [TODAY_INDEXES[0] ?? ""], { order: IDENTITY_ORDER }),
  narrow("narrow-text-id", { textId: true, byVuln: true, ts: "text" }),
  narrow("narrow-text-id-int-ts", { textId: true, byVuln: true, ts: "integer" }),
  narrow("narrow-int-id", { textId: false, byVuln: true, ts: "text" }),
];

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      db: { type: "string" },
      only: { type: "string" },
      assets: { type: "string" },
      "per-chunk": { type: "string", default: "1000" },
    },
  });
  if (values.db === undefined || !existsSync(values.db))
    throw new Error("--db: a store kept by full-match.ts --keep");
  const copy = `${values.db}.layout`;
  for (const s of ["", "-wal", "-shm"]) rmSync(copy + s, { force: true });
  {
    const src = new SQLite(values.db);
    src.pragma("wal_checkpoint(TRUNCATE)");
    src.close();
  }
  copyFileSync(values.db, copy);
  const db = new SQLite(copy);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("synchronous = NORMAL");
  db.pragma("cache_size = -262144");
  db.pragma("wal_autocheckpoint = 20000");
  db.pragma("temp_store = memory");
  // The assets in set order with their kind of asset (criticality and the two risk labels).
  db.exec(
    "create temp table chunk_assets (num integer primary key, asset_id text not null unique, set_num integer not null, kind text not null)",
  );
  const limit = values.assets === undefined ? "" : ` limit ${Number(values.assets)}`;
  db.exec(
    "insert into temp.chunk_assets (asset_id, set_num, kind) select ps.asset_id, ps.num, " +
      "a.criticality || '|' || coalesce(json_extract(a.labels, '$.\"internet-exposed\"'), '') || '|' || " +
      `coalesce(json_extract(a.labels, '$."sensitive-data"'), '') from package_sets ps join assets a on a.id = ps.asset_id order by ps.num${limit}`,
  );
  const assets = Number((db.prepare("select count(*) as n from temp.chunk_assets").get() as { n: number }).n);
  const rows = Number(
    (
      db
        .prepare(
          "select count(*) as n from findings where asset_id in (select asset_id from temp.chunk_assets)",
        )
        .get() as { n: number }
    ).n,
  );
  const perChunk = Number(values["per-chunk"]);
  // Every layout is filled from the same rows in memory, so what differs is only the write.
  db.exec(
    "create temp table facts_src (num integer primary key, package_id integer not null, kind text not null, " +
      "vuln_id text not null, advisory_ids text not null, aliases text not null, fixed_version text, " +
      "severity_score real, severity_vector text, epss real, kev integer not null, risk_score real not null, " +
      "class text not null, unique (package_id, kind, vuln_id))",
  );
  db.exec(
    "insert or ignore into temp.facts_src (package_id, kind, vuln_id, advisory_ids, aliases, fixed_version, " +
      "severity_score, severity_vector, epss, kev, risk_score, class) " +
      "select p.id, a.kind, x.vuln_id, x.advisory_ids, x.aliases, x.fixed_version, x.severity_score, " +
      "x.severity_vector, x.epss, x.kev, x.risk_score, x.class from findings x " +
      "join temp.chunk_assets a on a.asset_id = x.asset_id " +
      "join packages p on p.ecosystem = x.ecosystem and p.name = x.package_name and p.arch = x.arch and p.version = x.installed_version " +
      "order by p.id, a.kind, x.vuln_id",
  );
  db.exec(
    `create temp table src as select 0 as seq, 0 as anum, 0 as set_num, 0 as package_id, 0 as fact, 0 as vuln_num, ${WIDE_COLUMNS} from findings where 0`,
  );
  db.exec(
    `insert into temp.src select row_number() over (order by a.num, x.rowid), a.num, a.set_num, k.package_id, k.num, k.num, ${WIDE_COLUMNS.split(
      ", ",
    )
      .map((c) => `x.${c}`)
      .join(", ")} ` +
      "from findings x join temp.chunk_assets a on a.asset_id = x.asset_id " +
      "join packages p on p.ecosystem = x.ecosystem and p.name = x.package_name and p.arch = x.arch and p.version = x.installed_version " +
      "join temp.facts_src k on k.package_id = p.id and k.kind = a.kind and k.vuln_id = x.vuln_id order by a.num, x.rowid",
  );
  db.exec("create index temp.src_by_anum on src (anum, seq)");
  const facts = Number((db.prepare("select count(*) as n from temp.facts_src").get() as { n: number }).n);
  process.stdout.write(`${facts} distinct facts\n`);
  const wanted = values.only?.split(",");
  process.stdout.write(`${assets} assets, ${rows} findings, chunks of ${perChunk} assets\n`);
  process.stdout.write(
    "| layout | wall s | CPU s | CPU µs a row | size MiB |\n| --- | ---: | ---: | ---: | ---: |\n",
  );
  for (const layout of LAYOUTS) {
    if (wanted !== undefined && !wanted.includes(layout.name)) continue;
    for (const s of layout.create) db.exec(s);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const fills = layout.fill.map((s) => db.prepare(s));
    const perStatement = fills.map(() => 0);
    const wall0 = performance.now();
    const cpu0 = cpuMs();
    for (let lo = 1; lo <= assets; lo += perChunk) {
      db.transaction(() => {
        fills.forEach((st, i) => {
          const c = cpuMs();
          st.run(lo, lo + perChunk - 1);
          perStatement[i] = (perStatement[i] ?? 0) + cpuMs() - c;
        });
      })();
    }
    const wall = performance.now() - wall0;
    const cpu = cpuMs() - cpu0;
    const bytes = Number(
      (
        db
          .prepare("select coalesce(sum(pgsize), 0) as n from dbstat where name like 'lay\\_%' escape '\\'")
          .get() as { n: number }
      ).n,
    );
    process.stdout.write(
      `| ${layout.name} | ${(wall / 1000).toFixed(2)} | ${(cpu / 1000).toFixed(2)} (${perStatement.map((c) => (c / 1000).toFixed(2)).join(" + ")}) | ${((cpu * 1000) / rows).toFixed(2)} | ${(bytes / 2 ** 20).toFixed(0)} |\n`,
    );
    for (const s of layout.drop) db.exec(s);
    db.pragma("wal_checkpoint(TRUNCATE)");
  }
  db.close();
  for (const s of ["", "-wal", "-shm"]) rmSync(copy + s, { force: true });
}

main();
