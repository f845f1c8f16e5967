/**
 * Writes the findings of a re-match that compares them in JavaScript (one asset, a risk refresh) inside
 * the caller's transaction, into the tables behind the `findings` view (migration 0020): the fleet
 * re-match writes its own by set statements (fleet-rematch.ts).
 */
import { CompiledQuery, type Kysely } from "kysely";
import { capabilitiesOf } from "../../store/capabilities.js";
import { param } from "../../store/raw-sql.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import { findingKeys, findingRowNums } from "./finding-rows.js";
import type { FindingUpdate, NewFinding } from "./reconcile.js";

/** What an update rewrites, the row number first. */
const UPDATE_COLUMNS = [
  "num",
  "package_id",
  "fact",
  "status",
  "status_reason",
  "status_by",
  "status_expires_at",
  "first_seen",
  "due_at",
  "updated_at",
] as const;

/** Rows per statement: 1,000 rows of 12 values stay under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
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

/** The bulk writes of one re-match, bound to its transaction. */
export class FindingWriter {
  readonly #trx: Kysely<Database>;

  constructor(trx: Kysely<Database>) {
    this.#trx = trx;
  }

  /**
   * Inserts new findings: open, first seen and updated at `now`. They keep the id the reconciler gave
   * them (its audit event lists it).
   */
  async insert(rows: readonly NewFinding[], now: Date): Promise<void> {
    const at = now.toISOString();
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const keys = await findingKeys(this.#trx, chunk);
      await this.#trx
        .insertInto("finding_rows")
        .values(
          chunk.map((row, j) => ({
            ...(keys[j] as (typeof keys)[number]),
            text_id: row.id,
            status: "open",
            status_reason: null,
            status_by: null,
            status_expires_at: null,
            first_seen: at,
            due_at: row.due_at,
            updated_at: at,
          })),
        )
        // A concurrent run (an inventory report during a full re-match on PostgreSQL) may have inserted
        // the same finding first: it stands, and this copy is dropped rather than failing the whole run.
        .onConflict((oc) => oc.columns(["set_num", "package_id", "vuln_num"]).doNothing())
        .execute();
    }
  }

  /** Rewrites findings by id: a moved installed version points the finding at its new package. */
  async update(rows: readonly FindingUpdate[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const nums = await findingRowNums(
        this.#trx,
        chunk.map((r) => r.id),
      );
      const identity = new Map<
        number,
        Pick<FindingsTable, "asset_id" | "ecosystem" | "package_name" | "arch" | "vuln_id">
      >();
      const list = [...new Set(nums.values())];
      for (let k = 0; k < list.length; k += IDS_PER_STATEMENT) {
        for (const r of await this.#trx
          .selectFrom("finding_rows as r")
          .innerJoin("package_sets as ps", "ps.num", "r.set_num")
          .innerJoin("packages as p", "p.id", "r.package_id")
          .innerJoin("finding_vulns as v", "v.num", "r.vuln_num")
          .select(["r.num", "ps.asset_id", "p.ecosystem", "p.name as package_name", "p.arch", "v.vuln_id"])
          .where("r.num", "in", list.slice(k, k + IDS_PER_STATEMENT))
          .execute())
          identity.set(Number(r.num), r);
      }
      const present = chunk.flatMap((row) => {
        const num = nums.get(row.id);
        const id = num === undefined ? undefined : identity.get(num);
        return num === undefined || id === undefined ? [] : [{ row, num, columns: { ...id, ...row } }];
      });
      const keys = await findingKeys(
        this.#trx,
        present.map((p) => p.columns),
      );
      // One statement per chunk: a VALUES list joined on the row number.
      const caps = capabilitiesOf(this.#trx);
      const params: unknown[] = [];
      const tuples = present.map(({ row, num }, j) => {
        const key = keys[j] as (typeof keys)[number];
        const values = [
          num,
          key.package_id,
          key.fact,
          row.status,
          row.status_reason,
          row.status_by,
          row.status_expires_at,
          row.first_seen,
          row.due_at,
          row.updated_at,
        ];
        return `(${values
          .map((v, c) => {
            params.push(v);
            return param(caps, params.length, c < 3 ? "integer" : "text");
          })
          .join(", ")})`;
      });
      if (tuples.length === 0) continue;
      const set = UPDATE_COLUMNS.filter((c) => c !== "num")
        .map((c) => `${c} = v.${c}`)
        .join(", ");
      await this.#trx.executeQuery(
        CompiledQuery.raw(
          `with v (${UPDATE_COLUMNS.join(", ")}) as (values ${tuples.join(", ")}) ` +
            `update finding_rows set ${set} from v where finding_rows.num = v.num`,
          params,
        ),
      );
    }
  }

  /** Marks findings fixed: no longer affected. */
  async markFixed(ids: readonly string[], reason: string, by: string, at: Date): Promise<void> {
    const nums = [...(await findingRowNums(this.#trx, ids)).values()];
    for (let i = 0; i < nums.length; i += IDS_PER_STATEMENT) {
      await this.#trx
        .updateTable("finding_rows")
        .set({
          status: "fixed",
          status_reason: reason,
          status_by: by,
          status_expires_at: null,
          updated_at: at.toISOString(),
        })
        .where("num", "in", nums.slice(i, i + IDS_PER_STATEMENT))
        .execute();
    }
  }
}
