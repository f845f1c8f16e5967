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
import { capabilitiesOf } from "../../store/capabilities.js";
import { TemporaryTable, type TemporaryTableSpec } from "../../store/raw-sql.js";
import type { Database } from "../../store/schema.js";
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

const VERSIONS: TemporaryTableSpec = {
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

const FACTS: TemporaryTableSpec = {
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

const ASSETS: TemporaryTableSpec = {
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
  const caps = capabilitiesOf(trx);
  const versions = new TemporaryTable(trx, VERSIONS);
  const factsOf = new TemporaryTable(trx, FACTS);
  const assetsOf = new TemporaryTable(trx, ASSETS);
  const run = async (text: string, params: readonly unknown[]) =>
    (await trx.executeQuery(CompiledQuery.raw(text, [...params]))).numAffectedRows;
  for (const t of [versions, factsOf, assetsOf]) await t.create();
  await versions.fill(
    affected.map((v, k) => [v.ecosystem, v.name, v.version, v.source_name ?? "", v.source_version ?? "", k]),
    ROWS_PER_INSERT,
  );
  await factsOf.fill(
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
    ROWS_PER_INSERT,
  );
  await assetsOf.fill(
    assets.map((a) => [a.assetId, a.kind, a.due.emergency, a.due.high, a.due.routine]),
    ROWS_PER_INSERT,
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
  if (caps.distinctOn) {
    // PostgreSQL (DISTINCT ON, concurrent writers): two installed versions of one package make one
    // finding, of the version that sorts first as text (as the reconciler); `collate "C"` compares as
    // JavaScript does. A concurrent inventory report may have inserted a finding first: it stands,
    // as in bulk-write.ts.
    const n = await run(
      `insert into findings (${FINDING_COLUMNS}) ` +
        `select cast($1 as text) || lpad(to_hex(row_number() over ()), 12, '0'), asset_id, ecosystem, package_name, arch, installed_version, vuln_id, ${rest}, ` +
        `'open', null, null, null, cast($2 as text), cast($2 as text) from (` +
        `select distinct on (ip.asset_id, ip.ecosystem, ip.name, ip.arch, f.vuln_id) ${fanned} ` +
        `from installed_packages ip join ${versions.ref} t on ${on} ` +
        `join ${assetsOf.ref} a on a.asset_id = ip.asset_id ` +
        `join ${factsOf.ref} f on f.k = t.k and f.kind = a.kind ` +
        `order by ip.asset_id, ip.ecosystem, ip.name, ip.arch, f.vuln_id, ip.version collate "C") as s ` +
        `on conflict (${identity}) do nothing`,
      [prefix, at],
    );
    inserted = n === undefined ? undefined : Number(n);
  } else {
    // SQLite (rowids, NOT INDEXED, one writer): CROSS JOIN keeps the installed table as the outer
    // loop, scanned once in order. The id is numbered by installed row and vulnerability: a window function (row_number) would make SQLite
    // hold every row before inserting, which nearly doubles the statement's time. (Past 2^32 installed
    // rows the number takes more than twelve digits: longer ids, still unique.) A second
    // installed version of the same package replaces the first only if it sorts first as text (SQLite
    // compares text bytewise, as JavaScript does for these ASCII versions).
    const set = rest
      .split(", ")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ");
    await run(
      `insert into findings (${FINDING_COLUMNS}) ` +
        `select ? || printf('%012x', ip.rowid * 65536 + f.n), ${fanned}, 'open', null, null, null, ?, ? ` +
        `from installed_packages as ip not indexed cross join ${versions.ref} as t on ${on} ` +
        `join ${assetsOf.ref} as a on a.asset_id = ip.asset_id ` +
        `join ${factsOf.ref} as f on f.k = t.k and f.kind = a.kind ` +
        `where true on conflict (${identity}) do update set installed_version = excluded.installed_version, ${set} ` +
        "where excluded.installed_version < findings.installed_version",
      [prefix, at, at],
    );
  }
  // A failed transaction rolls the temporary tables back with it; only success needs the drop.
  for (const t of [versions, factsOf, assetsOf]) await t.drop();
  // PostgreSQL counts the rows inserted (another run's findings may have committed meanwhile); SQLite
  // would count a replaced duplicate too, but has no concurrent writer, so the table's count is exact.
  if (inserted !== undefined) return inserted;
  const count = await trx
    .selectFrom("findings")
    .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(count.n);
}
