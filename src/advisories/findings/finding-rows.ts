/**
 * Between the `findings` view (text ids, text identity and facts) and the tables behind it (migration
 * 0020): a finding's row number from its id, and the integers (set, package, vulnerability, fact) of a
 * finding given by its columns, creating the vulnerability and fact rows it needs.
 */
import { CompiledQuery, type Kysely } from "kysely";
import { packageSetDigest } from "../../domain/package-set.js";
import { capabilitiesOf } from "../../store/capabilities.js";
import { param } from "../../store/raw-sql.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import { derivedRowNum } from "./finding-id.js";
import { findingFacts } from "./reconcile.js";

const PER_STATEMENT = 500;

/** Row numbers of findings by id (ids of no finding are left out). */
export async function findingRowNums(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const stored: string[] = [];
  for (const id of ids) {
    const n = derivedRowNum(id);
    if (n === null) stored.push(id);
    else out.set(id, n);
  }
  for (let i = 0; i < stored.length; i += PER_STATEMENT) {
    for (const r of await db
      .selectFrom("finding_rows")
      .select(["num", "text_id"])
      .where("text_id", "in", stored.slice(i, i + PER_STATEMENT))
      .execute())
      if (r.text_id !== null) out.set(r.text_id, Number(r.num));
  }
  return out;
}

/** The row number of one finding, if there is one with that id. */
export async function findingRowNum(db: Kysely<Database>, id: string): Promise<number | undefined> {
  return (await findingRowNums(db, [id])).get(id);
}

/** A finding as its columns give it: identity and facts. */
export type FindingColumns = Pick<
  FindingsTable,
  | "asset_id"
  | "ecosystem"
  | "package_name"
  | "arch"
  | "installed_version"
  | "vuln_id"
  | "advisory_ids"
  | "aliases"
  | "fixed_version"
  | "severity_score"
  | "severity_vector"
  | "epss"
  | "kev"
  | "risk_score"
  | "class"
>;

export interface FindingKey {
  set_num: number;
  package_id: number;
  vuln_num: number;
  fact: number;
}

const SEP = "\u001f";

/**
 * The integers of each finding, in order. The installed package is the lowest dictionary id of its
 * ecosystem, name, arch and version (added to the dictionary if no set ever held it), so rows that
 * differ only in purl or source share a finding; an asset without a set gets an empty one.
 */
export async function findingKeys(
  trx: Kysely<Database>,
  rows: readonly FindingColumns[],
): Promise<FindingKey[]> {
  if (rows.length === 0) return [];
  const caps = capabilitiesOf(trx);
  const run = <R>(text: string, params: readonly unknown[]) =>
    trx.executeQuery<R>(CompiledQuery.raw(text, [...params]));

  const assets = [...new Set(rows.map((r) => r.asset_id))];
  const sets = new Map<string, number>();
  const readSets = async () => {
    for (const r of await trx
      .selectFrom("package_sets")
      .select(["num", "asset_id"])
      .where("asset_id", "in", assets)
      .execute())
      sets.set(r.asset_id, Number(r.num));
  };
  await readSets();
  if (assets.some((a) => !sets.has(a))) {
    const at = new Date().toISOString();
    for (const a of assets.filter((x) => !sets.has(x)))
      await trx
        .insertInto("package_sets")
        .values({ asset_id: a, package_ids: "[]", digest: packageSetDigest([]), total: 0, updated_at: at })
        .onConflict((oc) => oc.column("asset_id").doNothing())
        .execute();
    await readSets();
  }

  // Packages: one statement per distinct identity batch.
  const pkgKey = (r: FindingColumns) => [r.ecosystem, r.package_name, r.arch, r.installed_version].join(SEP);
  const packages = new Map<string, number>();
  const wanted = [...new Map(rows.map((r) => [pkgKey(r), r])).values()];
  const readPackages = async (list: readonly FindingColumns[]) => {
    for (let i = 0; i < list.length; i += PER_STATEMENT) {
      const part = list.slice(i, i + PER_STATEMENT);
      const params: unknown[] = [];
      const tuples = part.map((r) => {
        const at = params.length;
        params.push(r.ecosystem, r.package_name, r.arch, r.installed_version);
        return `(${[1, 2, 3, 4].map((k) => param(caps, at + k, "text")).join(", ")})`;
      });
      const { rows: found } = await run<{ id: number; e: string; n: string; a: string; v: string }>(
        `with w (e, n, a, v) as (values ${tuples.join(", ")}) ` +
          "select min(p.id) as id, w.e, w.n, w.a, w.v from w join packages p " +
          "on p.ecosystem = w.e and p.name = w.n and p.arch = w.a and p.version = w.v group by w.e, w.n, w.a, w.v",
        params,
      );
      for (const f of found) packages.set([f.e, f.n, f.a, f.v].join(SEP), Number(f.id));
    }
  };
  await readPackages(wanted);
  const absent = wanted.filter((r) => !packages.has(pkgKey(r)));
  if (absent.length > 0) {
    for (const r of absent)
      await trx
        .insertInto("packages")
        .values({
          ecosystem: r.ecosystem,
          name: r.package_name,
          version: r.installed_version,
          arch: r.arch,
          source_name: r.package_name,
          source_version: r.installed_version,
          purl: "",
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
    await readPackages(absent);
  }

  // Vulnerabilities, then facts: read first, and only those not stored yet are inserted (a re-match
  // of one asset mostly finds every one).
  const vulnIds = [...new Set(rows.map((r) => r.vuln_id))];
  const vulns = new Map<string, number>();
  const readVulns = async (list: readonly string[]) => {
    for (let i = 0; i < list.length; i += PER_STATEMENT)
      for (const v of await trx
        .selectFrom("finding_vulns")
        .select(["num", "vuln_id"])
        .where("vuln_id", "in", list.slice(i, i + PER_STATEMENT))
        .execute())
        vulns.set(v.vuln_id, Number(v.num));
  };
  await readVulns(vulnIds);
  const newVulns = vulnIds.filter((v) => !vulns.has(v));
  for (let i = 0; i < newVulns.length; i += PER_STATEMENT)
    await trx
      .insertInto("finding_vulns")
      .values(newVulns.slice(i, i + PER_STATEMENT).map((vuln_id) => ({ vuln_id })))
      .onConflict((oc) => oc.column("vuln_id").doNothing())
      .execute();
  if (newVulns.length > 0) await readVulns(newVulns);

  // Facts: immutable rows unique by (package, vulnerability, folded content).
  const withFacts = rows.map((r) => {
    const package_id = packages.get(pkgKey(r)) ?? 0;
    const vuln_num = vulns.get(r.vuln_id) ?? 0;
    const core = findingFacts({
      vulnId: r.vuln_id,
      advisoryIds: r.advisory_ids,
      aliases: r.aliases,
      fixedVersion: r.fixed_version,
      severityScore: r.severity_score,
      severityVector: r.severity_vector,
      epss: r.epss,
      kev: r.kev === 1 ? 1 : 0,
      riskScore: r.risk_score,
      class: r.class as "emergency" | "high" | "routine",
    }).core;
    return { r, package_id, vuln_num, core, key: `${package_id}${SEP}${vuln_num}${SEP}${core}` };
  });
  const distinct = [...new Map(withFacts.map((f) => [f.key, f])).values()];
  const facts = new Map<string, number>();
  const readFacts = async (list: typeof distinct) => {
    for (let i = 0; i < list.length; i += PER_STATEMENT) {
      const part = list.slice(i, i + PER_STATEMENT);
      for (const k of await trx
        .selectFrom("finding_facts")
        .select(["num", "package_id", "vuln_num", "core"])
        .where("package_id", "in", [...new Set(part.map((f) => f.package_id))])
        .where("vuln_num", "in", [...new Set(part.map((f) => f.vuln_num))])
        .execute())
        facts.set(`${k.package_id}${SEP}${k.vuln_num}${SEP}${k.core}`, Number(k.num));
    }
  };
  await readFacts(distinct);
  const newFacts = distinct.filter((f) => !facts.has(f.key));
  for (let i = 0; i < newFacts.length; i += PER_STATEMENT)
    await trx
      .insertInto("finding_facts")
      .values(
        newFacts.slice(i, i + PER_STATEMENT).map((f) => ({
          package_id: f.package_id,
          vuln_num: f.vuln_num,
          core: f.core,
          advisory_ids: f.r.advisory_ids,
          aliases: f.r.aliases,
          fixed_version: f.r.fixed_version,
          severity_score: f.r.severity_score,
          severity_vector: f.r.severity_vector,
          epss: f.r.epss,
          kev: f.r.kev,
          risk_score: f.r.risk_score,
          class: f.r.class,
        })),
      )
      .onConflict((oc) => oc.columns(["package_id", "vuln_num", "core"]).doNothing())
      .execute();
  if (newFacts.length > 0) await readFacts(newFacts);
  return withFacts.map((f) => ({
    set_num: sets.get(f.r.asset_id) ?? 0,
    package_id: f.package_id,
    vuln_num: f.vuln_num,
    fact: facts.get(f.key) ?? 0,
  }));
}
