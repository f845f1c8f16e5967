/**
 * Writes findings in bulk inside the caller's transaction. A full re-match writes hundreds of thousands
 * of rows: the statements are written out once per chunk size and run as compiled queries, because
 * building a query-builder tree of twenty-odd values per row costs more than the database's work.
 */
import { CompiledQuery, type Kysely } from "kysely";
import { capabilitiesOf, type StoreCapabilities } from "../../store/capabilities.js";
import { type ColumnType, param } from "../../store/raw-sql.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import type { FindingUpdate, NewFinding } from "./reconcile.js";

/** Rows per statement: 1,000 rows of 24 values stay under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 1000;
const IDS_PER_STATEMENT = 5000;

/** What names a finding: one per asset, installed package version and vulnerability. */
export const FINDING_IDENTITY_COLUMNS = [
  "asset_id",
  "ecosystem",
  "package_name",
  "arch",
  "installed_version",
  "vuln_id",
] as const satisfies ReadonlyArray<keyof FindingsTable>;

/** What a match says about a finding: compared on every re-match, rewritten when it moves. */
export const FINDING_FACT_COLUMNS = [
  "advisory_ids",
  "aliases",
  "fixed_version",
  "severity_score",
  "severity_vector",
  "epss",
  "kev",
  "risk_score",
  "class",
] as const satisfies ReadonlyArray<keyof FindingsTable>;

/** The columns a new finding brings; the rest are the same for every new finding (see statement()). */
const INSERT_COLUMNS = ["id", ...FINDING_IDENTITY_COLUMNS, ...FINDING_FACT_COLUMNS, "due_at"] as const;

const UPDATE_COLUMNS = [
  "id",
  "installed_version",
  ...FINDING_FACT_COLUMNS,
  "status",
  "status_reason",
  "status_by",
  "status_expires_at",
  "first_seen",
  "due_at",
  "updated_at",
] as const satisfies ReadonlyArray<keyof FindingUpdate>;

// VALUES lists carry no column types: PostgreSQL would read the numbers as text.
const CASTS: Partial<Record<string, ColumnType>> = {
  severity_score: "double precision",
  epss: "double precision",
  kev: "integer",
  risk_score: "double precision",
};

function placeholders(
  caps: StoreCapabilities,
  rows: number,
  columns: number,
  cast?: (col: number) => ColumnType | undefined,
  first = 0,
): string {
  const tuples: string[] = [];
  let n = first;
  for (let r = 0; r < rows; r++) {
    const values: string[] = [];
    for (let c = 0; c < columns; c++) {
      n += 1;
      // Casts only where parameters need types; elsewhere they would only make the statement slower to compile.
      values.push(param(caps, n, cast?.(c)));
    }
    tuples.push(`(${values.join(", ")})`);
  }
  return tuples.join(", ");
}

/** Statement texts by parameter style, kind and row count: full chunks repeat the same text. */
const statements = new Map<string, string>();

function statement(caps: StoreCapabilities, kind: "insert" | "update" | "fix", rows: number): string {
  const numbered = caps.placeholders === "numbered";
  const key = `${caps.placeholders}:${caps.typedParameters}:${kind}:${rows}`;
  let text = statements.get(key);
  if (text !== undefined) return text;
  if (kind === "insert") {
    // New findings are open, first seen and updated now: those columns come from one parameter, so
    // each row binds only what differs (SQLite compiles every placeholder of a statement).
    // Positional parameters bind one value per use (better-sqlite3 binds numbered SQLite parameters
    // by name only), so they get `now` twice.
    const [seen, updated, first] = numbered ? ["$1", "$1", 1] : ["?", "?", 2];
    const cast = (c: number) => CASTS[INSERT_COLUMNS[c] ?? "id"];
    const values = INSERT_COLUMNS.map((_, i) => `column${i + 1}`).join(", ");
    text =
      `insert into findings (${INSERT_COLUMNS.join(", ")}, status, status_reason, status_by, status_expires_at, first_seen, updated_at) ` +
      `select ${values}, 'open', null, null, null, ${seen}, ${updated} ` +
      `from (values ${placeholders(caps, rows, INSERT_COLUMNS.length, cast, first)}) as v ` +
      // A concurrent run (an inventory report during a full re-match on PostgreSQL) may have inserted
      // the same finding first: it stands, and this copy is dropped rather than failing the whole run.
      // (`where true` tells SQLite's parser the ON CONFLICT is the upsert, not a join constraint.)
      "where true on conflict (asset_id, ecosystem, package_name, arch, installed_version, vuln_id) do nothing";
  } else if (kind === "update") {
    const cast = (c: number) => CASTS[UPDATE_COLUMNS[c] ?? "id"];
    const set = UPDATE_COLUMNS.filter((c) => c !== "id")
      .map((c) => `${c} = v.${c}`)
      .join(", ");
    text =
      `with v (${UPDATE_COLUMNS.join(", ")}) as (values ${placeholders(caps, rows, UPDATE_COLUMNS.length, cast)}) ` +
      `update findings set ${set} from v where findings.id = v.id`;
  } else {
    const offset = 3;
    const ids = Array.from({ length: rows }, (_, i) => param(caps, i + 1 + offset));
    const [reason, by, at] = [param(caps, 1), param(caps, 2), param(caps, 3)];
    text =
      `update findings set status = 'fixed', status_reason = ${reason}, status_by = ${by}, ` +
      `status_expires_at = null, updated_at = ${at} where id in (${ids.join(", ")})`;
  }
  if (statements.size > 256) statements.clear();
  statements.set(key, text);
  return text;
}

/** The bulk writes of one re-match, bound to its transaction. */
export class FindingWriter {
  readonly #trx: Kysely<Database>;
  readonly #caps: StoreCapabilities;

  constructor(trx: Kysely<Database>) {
    this.#trx = trx;
    this.#caps = capabilitiesOf(trx);
  }

  /** Inserts new findings: open, first seen and updated at `now`. */
  async insert(rows: readonly NewFinding[], now: Date): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const at = now.toISOString();
      const params: unknown[] = this.#caps.placeholders === "numbered" ? [at] : [at, at];
      for (const row of chunk) for (const c of INSERT_COLUMNS) params.push(row[c]);
      await this.#trx.executeQuery(CompiledQuery.raw(statement(this.#caps, "insert", chunk.length), params));
    }
  }

  async update(rows: readonly FindingUpdate[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const params: unknown[] = [];
      for (const row of chunk) for (const c of UPDATE_COLUMNS) params.push(row[c]);
      await this.#trx.executeQuery(CompiledQuery.raw(statement(this.#caps, "update", chunk.length), params));
    }
  }

  /** Marks findings fixed: no longer affected. */
  async markFixed(ids: readonly string[], reason: string, by: string, at: Date): Promise<void> {
    for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
      const chunk = ids.slice(i, i + IDS_PER_STATEMENT);
      await this.#trx.executeQuery(
        CompiledQuery.raw(statement(this.#caps, "fix", chunk.length), [
          reason,
          by,
          at.toISOString(),
          ...chunk,
        ]),
      );
    }
  }
}
