/**
 * The first full re-match of a fleet (no stored findings yet) as one set-based statement: the facts of
 * each (package version, vulnerability, kind of asset) and each asset's due dates go into temporary
 * tables, and the database fans them out over installed_packages itself, so none of the hundreds of
 * thousands of new findings passes through JavaScript (each value read or bound there costs ~1 µs).
 * With nothing stored, every match is a new open finding first seen now: the reconciler's other
 * cases cannot arise, so its outcome is this insert.
 */
import { CompiledQuery, type Kysely } from "kysely";
import type { ChangeClass } from "../../policy/schema.js";
import type { Database } from "../../store/schema.js";
import { dialectOf } from "../../store/store.js";
import { findingIdBlock } from "./finding-id.js";
import type { PackageVersion } from "./installed-rows.js";
import type { FindingFacts } from "./reconcile.js";

const ROWS_PER_INSERT = 500;

/** What the insert needs per affected package version and kind of asset. */
export interface FactsOfVersion {
  /** Position of the version in the affected list. */
  k: number;
  kind: string;
  /** Position of the vulnerability among the version's, below MAX_VULNS_PER_VERSION (see the ids). */
  n: number;
  facts: FindingFacts;
}

/** SQLite numbers a new finding's id by installed row and vulnerability: 16 bits are left for the latter. */
export const MAX_VULNS_PER_VERSION = 0x10000;

/** An asset's kind (the facts it gets) and its due date per class for a finding first seen now. */
export interface AssetDue {
  assetId: string;
  kind: string;
  due: Readonly<Record<ChangeClass, string | null>>;
}

interface TempTable {
  name: string;
  /** Column definitions; the PostgreSQL type of each value is its column's (see fill()). */
  columns: ReadonlyArray<{ name: string; type: "text" | "integer" | "double precision"; nullable?: boolean }>;
  key: readonly string[];
}

const VERSIONS: TempTable = {
  name: "rematch_set_versions",
  columns: [
    { name: "ecosystem", type: "text" },
    { name: "name", type: "text" },
    { name: "version", type: "text" },
    { name: "sn", type: "text" },
    { name: "sv", type: "text" },
    { name: "k", type: "integer" },
  ],
  key: ["ecosystem", "name", "version", "sn", "sv"],
};

const FACTS: TempTable = {
  name: "rematch_set_facts",
  columns: [
    { name: "k", type: "integer" },
    { name: "kind", type: "text" },
    { name: "n", type: "integer" },
    { name: "vuln_id", type: "text" },
    { name: "advisory_ids", type: "text" },
    { name: "aliases", type: "text" },
    { name: "fixed_version", type: "text", nullable: true },
    { name: "severity_score", type: "double precision", nullable: true },
    { name: "severity_vector", type: "text", nullable: true },
    { name: "epss", type: "double precision", nullable: true },
    { name: "kev", type: "integer" },
    { name: "risk_score", type: "double precision" },
    { name: "class", type: "text" },
  ],
  key: ["k", "kind", "vuln_id"],
};

const ASSETS: TempTable = {
  name: "rematch_set_assets",
  columns: [
    { name: "asset_id", type: "text" },
    { name: "kind", type: "text" },
    { name: "due_emergency", type: "text", nullable: true },
    { name: "due_high", type: "text", nullable: true },
    { name: "due_routine", type: "text", nullable: true },
  ],
  key: ["asset_id"],
};

class Temp {
  readonly #trx: Kysely<Database>;
  readonly #postgres: boolean;

  constructor(trx: Kysely<Database>) {
    this.#trx = trx;
    this.#postgres = dialectOf(trx) === "postgres";
  }

  /** The name to use in statements: SQLite's temporary schema is named so it cannot meet a real table. */
  ref(t: TempTable): string {
    return this.#postgres ? t.name : `temp.${t.name}`;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<bigint | undefined> {
    const result = await this.#trx.executeQuery(CompiledQuery.raw(text, [...params]));
    return result.numAffectedRows;
  }

  async create(t: TempTable): Promise<void> {
    await this.run(`drop table if exists ${this.ref(t)}`);
    const columns = t.columns.map((c) => `${c.name} ${c.type}${c.nullable ? "" : " not null"}`).join(", ");
    await this.run(
      `create temporary table ${t.name} (${columns}, primary key (${t.key.join(", ")}))` +
        (this.#postgres ? " on commit drop" : " without rowid"),
    );
  }

  /** Inserts rows (values in column order); PostgreSQL gets each value cast to its column's type. */
  async fill(t: TempTable, rows: ReadonlyArray<readonly unknown[]>): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const params: unknown[] = [];
      const tuples = rows.slice(i, i + ROWS_PER_INSERT).map((row) => {
        const values = t.columns.map((c, j) => {
          params.push(row[j] ?? null);
          return this.#postgres ? `cast($${params.length} as ${c.type})` : "?";
        });
        return `(${values.join(", ")})`;
      });
      await this.run(`insert into ${this.ref(t)} values ${tuples.join(", ")}`, params);
    }
    if (this.#postgres) await this.run(`analyze ${t.name}`);
  }

  async drop(t: TempTable): Promise<void> {
    await this.run(`drop table ${this.ref(t)}`);
  }
}

const FINDING_COLUMNS =
  "id, asset_id, ecosystem, package_name, arch, installed_version, vuln_id, advisory_ids, aliases, " +
  "fixed_version, severity_score, severity_vector, epss, kev, risk_score, class, due_at, " +
  "status, status_reason, status_by, status_expires_at, first_seen, updated_at";

/**
 * Inserts the findings of every installed row of the affected versions, for the assets given, and
 * returns how many it inserted (the caller made sure there were none before).
 */
export async function insertAllFindings(
  trx: Kysely<Database>,
  affected: readonly PackageVersion[],
  facts: readonly FactsOfVersion[],
  assets: readonly AssetDue[],
  now: Date,
): Promise<number> {
  const postgres = dialectOf(trx) === "postgres";
  const temp = new Temp(trx);
  for (const t of [VERSIONS, FACTS, ASSETS]) await temp.create(t);
  await temp.fill(
    VERSIONS,
    affected.map((v, k) => [v.ecosystem, v.name, v.version, v.source_name ?? "", v.source_version ?? "", k]),
  );
  await temp.fill(
    FACTS,
    facts.map(({ k, kind, n, facts: f }) => [
      k,
      kind,
      n,
      f.vulnId,
      f.advisoryIds,
      f.aliases,
      f.fixedVersion,
      f.severityScore,
      f.severityVector,
      f.epss,
      f.kev,
      f.riskScore,
      f.class,
    ]),
  );
  await temp.fill(
    ASSETS,
    assets.map((a) => [a.assetId, a.kind, a.due.emergency, a.due.high, a.due.routine]),
  );
  const at = now.toISOString();
  const { prefix } = findingIdBlock(now.getTime());
  const on =
    "t.ecosystem = ip.ecosystem and t.name = ip.name and t.version = ip.version " +
    "and t.sn = coalesce(ip.source_name, '') and t.sv = coalesce(ip.source_version, '')";
  const due =
    "case f.class when 'emergency' then a.due_emergency when 'high' then a.due_high else a.due_routine end";
  const fanned =
    "ip.asset_id, ip.ecosystem, ip.name as package_name, ip.arch, ip.version as installed_version, f.vuln_id, " +
    "f.advisory_ids, f.aliases, f.fixed_version, f.severity_score, f.severity_vector, f.epss, f.kev, " +
    `f.risk_score, f.class, ${due} as due_at`;
  const rest =
    "advisory_ids, aliases, fixed_version, severity_score, severity_vector, epss, kev, risk_score, class, due_at";
  const identity = "asset_id, ecosystem, package_name, arch, vuln_id";
  let inserted: number | undefined;
  if (postgres) {
    // Two installed versions of one package make one finding, of the version that sorts first as text
    // (as the reconciler); `collate "C"` compares as JavaScript does. A concurrent inventory report
    // may have inserted a finding first: it stands, as in bulk-write.ts.
    const n = await temp.run(
      `insert into findings (${FINDING_COLUMNS}) ` +
        `select cast($1 as text) || lpad(to_hex(row_number() over ()), 12, '0'), asset_id, ecosystem, package_name, arch, installed_version, vuln_id, ${rest}, ` +
        `'open', null, null, null, cast($2 as text), cast($2 as text) from (` +
        `select distinct on (ip.asset_id, ip.ecosystem, ip.name, ip.arch, f.vuln_id) ${fanned} ` +
        `from installed_packages ip join ${temp.ref(VERSIONS)} t on ${on} ` +
        `join ${temp.ref(ASSETS)} a on a.asset_id = ip.asset_id ` +
        `join ${temp.ref(FACTS)} f on f.k = t.k and f.kind = a.kind ` +
        `order by ip.asset_id, ip.ecosystem, ip.name, ip.arch, f.vuln_id, ip.version collate "C") as s ` +
        `on conflict (${identity}) do nothing`,
      [prefix, at],
    );
    inserted = n === undefined ? undefined : Number(n);
  } else {
    // SQLite: CROSS JOIN keeps the installed table as the outer loop, scanned once in order. The id is
    // numbered by installed row and vulnerability: a window function (row_number) would make SQLite
    // hold every row before inserting, which nearly doubles the statement's time. (Past 2^32 installed
    // rows the number takes more than twelve digits: longer ids, still unique.) A second
    // installed version of the same package replaces the first only if it sorts first as text (SQLite
    // compares text bytewise, as JavaScript does for these ASCII versions).
    const set = rest
      .split(", ")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ");
    await temp.run(
      `insert into findings (${FINDING_COLUMNS}) ` +
        `select ? || printf('%012x', ip.rowid * 65536 + f.n), ${fanned}, 'open', null, null, null, ?, ? ` +
        `from installed_packages as ip not indexed cross join ${temp.ref(VERSIONS)} as t on ${on} ` +
        `join ${temp.ref(ASSETS)} as a on a.asset_id = ip.asset_id ` +
        `join ${temp.ref(FACTS)} as f on f.k = t.k and f.kind = a.kind ` +
        `where true on conflict (${identity}) do update set installed_version = excluded.installed_version, ${set} ` +
        "where excluded.installed_version < findings.installed_version",
      [prefix, at, at],
    );
  }
  // A failed transaction rolls the temporary tables back with it; only success needs the drop.
  for (const t of [VERSIONS, FACTS, ASSETS]) await temp.drop(t);
  // PostgreSQL counts the rows inserted (another run's findings may have committed meanwhile); SQLite
  // would count a replaced duplicate too, but has no concurrent writer, so the table's count is exact.
  if (inserted !== undefined) return inserted;
  const count = await trx
    .selectFrom("findings")
    .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(count.n);
}
