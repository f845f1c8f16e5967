import { CompiledQuery, type Kysely } from "kysely";
import { capabilitiesOf, type StoreCapabilities } from "./capabilities.js";
import type { Database } from "./schema.js";

export type ColumnType = "text" | "integer" | "double precision";

/** The n-th (1-based) parameter of a raw statement, cast to `type` where bare parameters need it. */
export function param(caps: StoreCapabilities, n: number, type?: ColumnType): string {
  const p = caps.placeholders === "numbered" ? `$${n}` : "?";
  return type !== undefined && caps.typedParameters ? `cast(${p} as ${type})` : p;
}

export interface TemporaryTableSpec {
  name: string;
  columns: ReadonlyArray<{ name: string; type: ColumnType; nullable?: boolean }>;
  key: readonly string[];
}

/**
 * A temporary table on the transaction's connection, gone when the transaction ends (rolled back with
 * it, or dropped at commit where the database can; see drop()).
 */
export class TemporaryTable {
  readonly #trx: Kysely<Database>;
  readonly #spec: TemporaryTableSpec;
  readonly #caps: StoreCapabilities;
  /** The name to use in statements. */
  readonly ref: string;

  constructor(trx: Kysely<Database>, spec: TemporaryTableSpec) {
    this.#trx = trx;
    this.#spec = spec;
    this.#caps = capabilitiesOf(trx);
    // Qualified by its schema where it has one, so it cannot meet a real table of the same name.
    this.ref = this.#caps.tempSchema ? `temp.${spec.name}` : spec.name;
  }

  async create(): Promise<void> {
    const t = this.#spec;
    await this.#run(`drop table if exists ${this.ref}`);
    const columns = t.columns.map((c) => `${c.name} ${c.type}${c.nullable ? "" : " not null"}`).join(", ");
    const suffix = [
      this.#caps.tempOnCommitDrop ? " on commit drop" : "",
      this.#caps.withoutRowid ? " without rowid" : "",
    ].join("");
    await this.#run(
      `create temporary table ${t.name} (${columns}, primary key (${t.key.join(", ")}))${suffix}`,
    );
  }

  /** Inserts rows (values in column order), `perStatement` at a time. */
  async fill(rows: ReadonlyArray<readonly unknown[]>, perStatement: number): Promise<void> {
    const columns = this.#spec.columns;
    for (let i = 0; i < rows.length; i += perStatement) {
      const params: unknown[] = [];
      const tuples = rows.slice(i, i + perStatement).map((row) => {
        const values = columns.map((c, j) => {
          params.push(row[j] ?? null);
          return param(this.#caps, params.length, c.type);
        });
        return `(${values.join(", ")})`;
      });
      await this.#run(`insert into ${this.ref} values ${tuples.join(", ")}`, params);
    }
    if (this.#caps.analyzeTemporary) await this.#run(`analyze ${this.#spec.name}`);
  }

  /** Only a successful transaction needs it: a failed one rolls the table back with it. */
  async drop(): Promise<void> {
    await this.#run(`drop table ${this.ref}`);
  }

  async #run(text: string, params: readonly unknown[] = []): Promise<void> {
    await this.#trx.executeQuery(CompiledQuery.raw(text, [...params]));
  }
}
