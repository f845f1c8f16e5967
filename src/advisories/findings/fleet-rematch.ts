/**
 * The full re-match of the fleet, set-based: each distinct package of the dictionary is matched once in
 * JavaScript, and the database derives every asset's findings from the sets (set_packages) and
 * compares them with the stored ones itself, so no finding passes through JavaScript.
 *
 * The fleet is done a chunk of package sets at a time, each chunk in a write of its own: on SQLite the
 * inventory reports queued meanwhile commit between chunks instead of waiting for the whole run. A
 * report's own re-match handles its asset; a chunk that comes later reads the asset's set as it is
 * then, and packages that reports added since the run began are matched before the chunk that needs
 * them, so nothing is lost or matched against a stale set.
 *
 * Identity is exact: (asset, ecosystem, package, arch, installed version, vulnerability). A version
 * move is paired with its old finding by the inventory report's own re-match (see reconcile.ts); here a
 * finding of a version no longer installed is fixed and the new version's one opened.
 */

import { performance } from "node:perf_hooks";
import { CompiledQuery, type Kysely } from "kysely";
import { appendAudit } from "../../audit/log.js";
import { type Actor, actorLabel, SYSTEM_ACTOR } from "../../domain/roles.js";
import type { ChangeClass, Policy } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import { capabilitiesOf, type StoreCapabilities } from "../../store/capabilities.js";
import { param } from "../../store/raw-sql.js";
import type { Database } from "../../store/schema.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { emptyMatchStats, type MatchStats, type VulnerabilityMatch } from "../matching/match.js";
import { advisoriesVersion, advisoryKeysFor, loadAdvisoryIndex } from "./advisory-loader.js";
import { type AssetContext, AssetContexts } from "./asset-context.js";
import { DueDates } from "./due-date.js";
import { Evaluations, subjectOf } from "./evaluations.js";
import { ExploitFacts } from "./exploit-facts.js";
import { derivedFindingId } from "./finding-id.js";
import { findingsPolicy } from "./findings-policy.js";
import type { PackageVersion } from "./installed-rows.js";
import { contextKey, matchInputsKey, planMatch, pruneMatchState, recordMatched } from "./match-state.js";
import { AUDITED_IDS, type FindingFacts, type ReconcileCounts, SEP } from "./reconcile.js";

export interface FindingsDelta extends ReconcileCounts {
  /** Distinct package versions evaluated against the advisories. */
  packages: number;
  stats: MatchStats;
}

export interface RematchAllOptions {
  /** Called as the run advances; `total` may grow as later phases learn their size. */
  onProgress?(done: number, total: number): void;
  /** Who asked for the run (recorded on the audit events); the system by default. */
  actor?: Actor;
  /** Called as each phase ends with its wall time, to tell where a run spends it. */
  onPhase?(phase: RematchPhase, ms: number): void;
  /** Package sets per chunk (each chunk commits on its own). */
  setsPerChunk?: number;
}

export type RematchPhase =
  | "inputs compared"
  | "distinct versions read"
  | "advisories loaded"
  | "versions matched"
  | "findings compared and written";

/** Assets per chunk: a chunk of the benchmark's fleet writes ~90,000 findings at most. */
const SETS_PER_CHUNK = 1000;
const ROWS_PER_INSERT = 400;
const LONG_WRITE = { alone: true } as const;

interface Facts {
  packageId: number;
  /** Per kind of asset: the facts of each vulnerability (first match of a vulnerability wins). */
  byKind: Map<string, FindingFacts[]>;
}

/** Subjects whose matches a process keeps for the next run (the benchmark's dictionary has ~1,300). */
const REMEMBERED_SUBJECTS = 200_000;

/** Matches by subject, valid for one advisories version (random per write: see migration 0018). */
const remembered = { version: null as string | null, bySubject: new Map<string, VulnerabilityMatch[]>() };

function matchesUnder(version: string | null): Map<string, VulnerabilityMatch[]> {
  if (version === null || version !== remembered.version) {
    remembered.bySubject = new Map();
    remembered.version = version;
  }
  return remembered.bySubject;
}

/** The matches of the dictionary's packages, evaluated once per run and extended as packages appear. */
class FleetMatcher {
  readonly stats = emptyMatchStats();
  readonly #policy: Policy;
  /** Affected package ids and their matches' facts per kind. */
  readonly affected = new Map<number, { version: PackageVersion; facts: Facts; evaluations: Evaluations }>();
  #maxId = 0;
  #evaluated = 0;
  #exploit = new ExploitFacts(new Set(), new Map());

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  get evaluated(): number {
    return this.#evaluated;
  }

  /** Matches the packages added to the dictionary since the last call (all of them the first time). */
  async evaluateNew(db: Kysely<Database>, phase?: (name: RematchPhase) => void): Promise<void> {
    const rows = (
      await db
        .selectFrom("packages")
        .select(["id", "ecosystem", "name", "version", "source_name", "source_version"])
        .where("id", ">", this.#maxId)
        .execute()
    ).map((r) => ({ ...r, id: Number(r.id) }));
    phase?.("distinct versions read");
    for (const r of rows) this.#maxId = Math.max(this.#maxId, r.id);
    await this.#evaluate(db, rows, phase);
  }

  async #evaluate(
    db: Kysely<Database>,
    rows: ReadonlyArray<PackageVersion & { id: number }>,
    phase?: (name: RematchPhase) => void,
  ): Promise<void> {
    const fresh = rows.filter((r) => !this.#seen.has(r.id));
    if (fresh.length === 0) return;
    for (const r of fresh) this.#seen.add(r.id);
    // Matches of an earlier run under the same advisories are reused: only the others need their
    // advisories read and the versions compared.
    const version = await advisoriesVersion(db);
    const known = matchesUnder(version);
    const unknown = fresh.filter((r) => !known.has(subjectOf(r)));
    const keys = advisoryKeysFor(
      unknown.map((v) => ({ ecosystem: v.ecosystem, name: v.name, sourceName: v.source_name })),
    );
    const evaluations = new Evaluations(
      keys.length === 0 ? new AdvisoryIndex() : await loadAdvisoryIndex(db, keys),
    );
    phase?.("advisories loaded");
    const matched = fresh.map((r) => ({ r, matches: known.get(subjectOf(r)) ?? evaluations.matches(r) }));
    if (version !== null && unknown.length > 0 && (await advisoriesVersion(db)) === version) {
      for (const r of unknown) {
        if (known.size >= REMEMBERED_SUBJECTS) break;
        known.set(subjectOf(r), evaluations.matches(r));
      }
    }
    const aliases = matched.flatMap((m) => m.matches.flatMap((x) => x.aliases));
    this.#exploit = await ExploitFacts.load(db, aliases);
    for (const { r, matches } of matched) {
      if (matches.length === 0) continue;
      this.affected.set(r.id, {
        version: r,
        facts: { packageId: r.id, byKind: new Map() },
        evaluations,
      });
      // The facts are built per kind of asset when a chunk first needs the kind (see factsFor).
      this.#pending.set(r.id, matches);
    }
    // Subjects matched in an earlier run count as evaluated: the run's answer covers them.
    const unknownRows = new Set(unknown);
    const reused = new Set(fresh.filter((r) => !unknownRows.has(r)).map(subjectOf));
    for (const r of unknown) reused.delete(subjectOf(r));
    this.#evaluated += evaluations.evaluated + reused.size;
    for (const k of Object.keys(evaluations.stats) as Array<keyof MatchStats>)
      this.stats[k] += evaluations.stats[k];
    this.#exploitOf.set(evaluations, this.#exploit);
    phase?.("versions matched");
  }

  /**
   * Matches the given packages that no earlier call matched (a run over a few sets matches only
   * theirs).
   */
  async ensure(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !this.#seen.has(id));
    if (wanted.length === 0) return;
    const rows: Array<PackageVersion & { id: number }> = [];
    for (let i = 0; i < wanted.length; i += 1000) {
      for (const r of await db
        .selectFrom("packages")
        .select(["id", "ecosystem", "name", "version", "source_name", "source_version"])
        .where("id", "in", wanted.slice(i, i + 1000))
        .execute())
        rows.push({ ...r, id: Number(r.id) });
    }
    await this.#evaluate(db, rows);
  }

  readonly #seen = new Set<number>();
  readonly #pending = new Map<number, ReturnType<Evaluations["matches"]>>();
  readonly #exploitOf = new WeakMap<Evaluations, ExploitFacts>();

  /** The facts of every affected package for one kind of asset (the asset stands for its kind). */
  factsFor(kind: string, asset: AssetContext): Array<{ packageId: number; facts: FindingFacts }> {
    const out: Array<{ packageId: number; facts: FindingFacts }> = [];
    for (const [id, a] of this.affected) {
      let list = a.facts.byKind.get(kind);
      if (list === undefined) {
        const seen = new Set<string>();
        list = [];
        const exploit = this.#exploitOf.get(a.evaluations) ?? this.#exploit;
        for (const m of this.#pending.get(id) ?? []) {
          if (seen.has(m.vulnId)) continue;
          seen.add(m.vulnId);
          list.push(a.evaluations.facts(m, asset, exploit, this.#policy));
        }
        a.facts.byKind.set(kind, list);
      }
      for (const facts of list) out.push({ packageId: id, facts });
    }
    return out;
  }
}

/** Counts of one chunk. */
interface ChunkCounts extends ReconcileCounts {
  sets: number;
  /** Findings each set yielded, by set number. */
  perSet: Map<number, number>;
}

/**
 * Above this share of stale sets the whole dictionary is matched up front (one advisory load); below it
 * only the packages of the stale sets are, chunk by chunk, so a run after a few reports stays small.
 */
const WHOLE_DICTIONARY_SHARE = 0.2;

/**
 * Re-matches the whole fleet, a chunk of package sets per write. Sets whose inputs did not move since
 * they were last matched (see match-state.ts) are skipped: their findings would come out the same.
 */
export async function rematchAll(
  ctx: ServiceContext,
  options: RematchAllOptions = {},
): Promise<FindingsDelta> {
  const actor = options.actor ?? SYSTEM_ACTOR;
  const db = ctx.store.db;
  let lap = performance.now();
  const phase = (name: RematchPhase) => {
    const at = performance.now();
    options.onPhase?.(name, at - lap);
    lap = at;
  };
  const now = ctx.now();
  // Read before any input: a write that lands during the run then shows as a newer version next time.
  const inputs = await matchInputsKey(db);
  const policy = await findingsPolicy(db);
  const contexts = new AssetContexts(policy);
  const assets = await contexts.load(db);
  const plan = await planMatch(db, inputs, assets, now);
  phase("inputs compared");
  const matcher = new FleetMatcher(policy);
  const whole = plan.stale.length > WHOLE_DICTIONARY_SHARE * (plan.stale.length + plan.skipped.sets);
  if (whole) await matcher.evaluateNew(db, phase);
  const dueDates = new DueDates(policy);
  const total: ReconcileCounts = {
    opened: 0,
    updated: 0,
    reopened: 0,
    fixed: 0,
    unchanged: plan.skipped.findings,
  };
  const perChunk = options.setsPerChunk ?? SETS_PER_CHUNK;
  const numbers = new FactNumbers();
  const totalSets = plan.stale.length;
  let done = 0;
  for (let i = 0; i < plan.stale.length; i += perChunk) {
    const nums = plan.stale.slice(i, i + perChunk).map((s) => s.num);
    const counts = await ctx.store.write(async (trx) => {
      numbers.discard();
      // Where writers run concurrently (PostgreSQL), the chunk's sets are locked: a report on one of its
      // assets waits for the chunk, then re-matches its asset itself, instead of changing the set (and
      // its findings) between the chunk's statements.
      const sets = await trx
        .selectFrom("package_sets")
        .select(["num", "asset_id", "digest"])
        .$if(!whole, (q) => q.select("package_ids"))
        .where("num", "in", nums)
        .orderBy("num")
        .$if(capabilitiesOf(trx).rowLocks, (q) => q.forUpdate())
        .execute();
      if (sets.length === 0) return null;
      // Packages reported since the run began are matched before a chunk may need them.
      if (whole) await matcher.evaluateNew(trx);
      else
        await matcher.ensure(
          trx,
          sets.flatMap((s) => JSON.parse((s as { package_ids: string }).package_ids) as number[]),
        );
      const missing = sets.filter((s) => !assets.has(s.asset_id)).map((s) => s.asset_id);
      if (missing.length > 0) for (const [id, a] of await contexts.load(trx, missing)) assets.set(id, a);
      const chunk = sets.map((s) => ({ num: Number(s.num), asset: assets.get(s.asset_id) }));
      const pairs = whole
        ? undefined
        : sets.flatMap((s) =>
            (JSON.parse((s as { package_ids: string }).package_ids) as number[])
              .filter((id) => matcher.affected.has(id))
              .map((id): [number, number] => [Number(s.num), id]),
          );
      const result = await compareChunk(trx, {
        now,
        actor,
        matcher,
        dueDates,
        sets: chunk,
        numbers,
        ...(pairs === undefined ? {} : { pairs }),
      });
      await recordMatched(
        trx,
        inputs,
        sets.flatMap((s) => {
          const a = assets.get(s.asset_id);
          return a === undefined
            ? []
            : [
                {
                  num: Number(s.num),
                  digest: s.digest,
                  context: contextKey(a),
                  findings: result.perSet.get(Number(s.num)) ?? 0,
                },
              ];
        }),
        now,
      );
      return result;
    }, LONG_WRITE);
    numbers.commit();
    if (counts === null) continue;
    done += counts.sets;
    for (const k of ["opened", "updated", "reopened", "fixed", "unchanged"] as const) total[k] += counts[k];
    options.onProgress?.(done, Math.max(done, totalSets));
  }
  // Assets whose set is gone (or never came) have nothing installed: their findings are fixed.
  total.fixed += await ctx.store.write(async (trx) => {
    await pruneMatchState(trx);
    const bare = await trx
      .selectFrom("assets")
      .select("id")
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom("package_sets as ps").select("ps.num").whereRef("ps.asset_id", "=", "assets.id"),
          ),
        ),
      )
      .execute();
    let fixed = 0;
    for (let i = 0; i < bare.length; i += 500) {
      const res = await trx
        .updateTable("finding_rows")
        .set({
          status: "fixed",
          status_reason: "no longer affected",
          status_by: actorLabel(actor),
          status_expires_at: null,
          updated_at: now.toISOString(),
        })
        .where("status", "!=", "fixed")
        .where("set_num", "in", (eb) =>
          eb
            .selectFrom("package_sets")
            .select("num")
            .where(
              "asset_id",
              "in",
              bare.slice(i, i + 500).map((b) => b.id),
            ),
        )
        .executeTakeFirst();
      fixed += Number(res.numUpdatedRows);
    }
    if (fixed > 0)
      await auditChunk(
        trx,
        actor,
        now,
        { opened: 0, updated: 0, reopened: 0, fixed, unchanged: 0 },
        "bare",
        [],
      );
    return fixed;
  }, LONG_WRITE);
  phase("findings compared and written");
  return { ...total, packages: matcher.evaluated, stats: { ...matcher.stats } };
}

interface ChunkInput {
  now: Date;
  actor: Actor;
  matcher: FleetMatcher;
  dueDates: DueDates;
  sets: Array<{ num: number; asset: AssetContext | undefined }>;
  /** The sets' affected (set number, package id) pairs, when the chunk's sets are few and scattered. */
  pairs?: Array<[number, number]>;
  numbers: FactNumbers;
}

/**
 * `x.set_num = d.num and …` over a finding's identity in finding_rows (migration 0020): the set, the
 * package (the lowest dictionary id of its ecosystem, name, arch and version) and the vulnerability.
 */
const sameIdentity = (x: string, d: string) =>
  `${x}.set_num = ${d}.num and ${x}.package_id = ${d}.package_id and ${x}.vuln_num = ${d}.vuln_num`;

class Temp {
  readonly #trx: Kysely<Database>;
  readonly caps: StoreCapabilities;
  constructor(trx: Kysely<Database>) {
    this.#trx = trx;
    this.caps = capabilitiesOf(trx);
  }

  ref(name: string): string {
    return this.caps.tempSchema ? `temp.${name}` : name;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<number> {
    const r = await this.#trx.executeQuery(CompiledQuery.raw(text, [...params]));
    return Number(r.numAffectedRows ?? 0);
  }

  async rows<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.#trx.executeQuery<R>(CompiledQuery.raw(text, [...params]))).rows;
  }

  async create(name: string, columns: string): Promise<void> {
    await this.run(`drop table if exists ${this.ref(name)}`);
    await this.run(
      `create temporary table ${name} (${columns})${this.caps.tempOnCommitDrop ? " on commit drop" : ""}`,
    );
  }

  async fill(name: string, types: readonly string[], rows: ReadonlyArray<readonly unknown[]>): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const params: unknown[] = [];
      const tuples = rows.slice(i, i + ROWS_PER_INSERT).map((row) => {
        const values = types.map((t, j) => {
          params.push(row[j] ?? null);
          return param(
            this.caps,
            params.length,
            t === "" ? undefined : (t as "text" | "integer" | "double precision"),
          );
        });
        return `(${values.join(", ")})`;
      });
      await this.run(`insert into ${this.ref(name)} values ${tuples.join(", ")}`, params);
    }
    if (this.caps.analyzeTemporary) await this.run(`analyze ${name}`);
  }

  async drop(...names: string[]): Promise<void> {
    for (const n of names) await this.run(`drop table if exists ${this.ref(n)}`);
  }
}

/** One chunk: desired findings into a temporary table, then insert, update and fix by set statements. */
async function compareChunk(trx: Kysely<Database>, input: ChunkInput): Promise<ChunkCounts> {
  const t = new Temp(trx);
  const nowIso = input.now.toISOString();
  const by = actorLabel(input.actor);
  const lo = input.sets[0]?.num ?? 0;
  const hi = input.sets.at(-1)?.num ?? 0;
  const known = input.sets.filter((s): s is { num: number; asset: AssetContext } => s.asset !== undefined);

  // Assets of the chunk, with their due date per class for a finding first seen now.
  await t.create(
    "rm_assets",
    "num integer primary key, asset_id text not null, kind text not null, due_emergency text, due_high text, due_routine text",
  );
  const due = (a: AssetContext, cls: ChangeClass) => input.dueDates.at(cls, a.sla[cls], nowIso);
  await t.fill(
    "rm_assets",
    ["integer", "text", "text", "text", "text", "text"],
    known.map((s) => [
      s.num,
      s.asset.id,
      s.asset.riskKind,
      due(s.asset, "emergency"),
      due(s.asset, "high"),
      due(s.asset, "routine"),
    ]),
  );
  // Facts per affected package, vulnerability and kind of asset present in the chunk.
  const kinds = new Map<string, AssetContext>();
  for (const s of known) if (!kinds.has(s.asset.riskKind)) kinds.set(s.asset.riskKind, s.asset);
  await t.create(
    "rm_facts",
    "fid integer primary key, package_id integer not null, kind text not null, vuln_id text not null, " +
      "advisory_ids text, aliases text, fixed_version text, severity_score double precision, " +
      "severity_vector text, epss double precision, kev integer, risk_score double precision, " +
      "class text not null, core text, canon integer, vuln_num integer, fact integer",
  );
  const facts: unknown[][] = [];
  for (const [kind, asset] of kinds) {
    for (const { packageId, facts: f } of input.matcher.factsFor(kind, asset)) {
      const stored = input.numbers.get(packageId, f);
      facts.push(
        stored === undefined
          ? [
              facts.length + 1,
              packageId,
              kind,
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
              f.core,
              // canon, vuln_num, fact: set by storeFacts().
              null,
              null,
              null,
            ]
          : // Numbered by an earlier chunk: only what the join needs.
            [facts.length + 1, packageId, kind, f.vulnId, ...NO_CONTENT, f.class, null, ...stored],
      );
    }
  }
  await t.fill(
    "rm_facts",
    [
      "integer",
      "integer",
      "text",
      "text",
      "text",
      "text",
      "text",
      "double precision",
      "text",
      "double precision",
      "integer",
      "double precision",
      "text",
      "text",
      "integer",
      "integer",
      "integer",
    ],
    facts,
  );
  await storeFacts(t, input.numbers);
  await t.run(
    `create index ${t.caps.tempSchema ? "temp." : ""}rm_facts_by_package on rm_facts (package_id, kind)`,
  );

  const dueNew =
    "case f.class when 'emergency' then a.due_emergency when 'high' then a.due_high else a.due_routine end";
  // The join walks each affected package's range of the inverted index once, then takes the facts of
  // each asset's kind: led by the facts (one row per package, kind and vulnerability) it walked the
  // same range once per fact, some fifty index entries read for each finding made. `cross join` with
  // the conditions in WHERE fixes that order on SQLite; PostgreSQL plans it as the inner join it is.
  // The range parameters are numbered from `n`: they follow a statement's own.
  const source = (n: number) =>
    input.pairs === undefined
      ? `from ${t.ref("rm_packages")} x cross join set_packages ap cross join ${t.ref("rm_assets")} a ` +
        `cross join ${t.ref("rm_facts")} f ` +
        `where ap.package_id = x.package_id and ap.set_num >= ${param(t.caps, n)} and ap.set_num <= ${param(t.caps, n + 1)} ` +
        "and a.num = ap.set_num and f.package_id = ap.package_id and f.kind = a.kind"
      : // A few scattered sets: their affected packages, from the sets themselves, instead of a range
        // of the inverted index that would span most of the fleet.
        `from ${t.ref("rm_pairs")} ap cross join ${t.ref("rm_assets")} a cross join ${t.ref("rm_facts")} f ` +
        "where a.num = ap.num and f.package_id = ap.package_id and f.kind = a.kind";
  const sourceParams = input.pairs === undefined ? [lo, hi] : [];
  if (input.pairs !== undefined) {
    await t.create("rm_pairs", "num integer not null, package_id integer not null");
    await t.fill("rm_pairs", ["integer", "integer"], input.pairs);
  } else {
    await t.create("rm_packages", "package_id integer primary key");
    await t.run(
      `insert into ${t.ref("rm_packages")} (package_id) select distinct package_id from ${t.ref("rm_facts")}`,
    );
    if (t.caps.analyzeTemporary) await t.run("analyze rm_packages");
  }
  const stored = await t.rows<{ one: number }>(
    `select 1 as one from finding_rows where set_num in (select num from ${t.ref("rm_assets")}) limit 1`,
  );
  if (stored.length === 0) return firstMatch(trx, t, input, source, sourceParams, dueNew);

  // The chunk's desired findings: the sets' affected packages joined to the facts of their kind.
  const seq =
    t.caps.integerKey === "identity"
      ? "seq integer generated by default as identity primary key"
      : "seq integer primary key";
  await t.create(
    "rm_desired",
    `${seq}, num integer not null, package_id integer not null, vuln_num integer not null, fact integer not null, ` +
      "class text not null, due_new text",
  );
  // Unique before the insert: dictionary rows that differ only in purl or source are one finding.
  await t.run(
    `create unique index ${t.caps.tempSchema ? "temp." : ""}rm_desired_identity on rm_desired (num, package_id, vuln_num)`,
  );
  const desired = await t.run(
    "insert into rm_desired (num, package_id, vuln_num, fact, class, due_new) " +
      `select a.num, f.canon, f.vuln_num, f.fact, f.class, ${dueNew} ${source(1)} ` +
      `order by ${IDENTITY_ORDER} on conflict do nothing`,
    sourceParams,
  );
  if (t.caps.analyzeTemporary) await t.run("analyze rm_desired");
  const perSet = new Map<number, number>();
  for (const r of await t.rows<{ num: number | string; n: number | string }>(
    `select num, count(*) as n from ${t.ref("rm_desired")} group by num`,
  ))
    perSet.set(Number(r.num), Number(r.n));

  // Due dates of stored findings depend on their first-seen time: one per (asset, class, first seen).
  await t.create("rm_due", "num integer not null, class text not null, first_seen text not null, due text");
  const pairs = await t.rows<{ num: number; class: ChangeClass; first_seen: string }>(
    `select distinct d.num, d.class, x.first_seen from ${t.ref("rm_desired")} d ` +
      `join finding_rows x on ${sameIdentity("x", "d")} where x.status != 'fixed'`,
  );
  const slaOf = new Map(known.map((s) => [s.num, s.asset]));
  await t.fill(
    "rm_due",
    ["integer", "text", "text", "text"],
    pairs.map((p) => {
      const a = slaOf.get(Number(p.num));
      return [
        Number(p.num),
        p.class,
        p.first_seen,
        a === undefined ? null : input.dueDates.at(p.class, a.sla[p.class], p.first_seen),
      ];
    }),
  );

  const from = `from ${t.ref("rm_desired")} d`;
  const identityWhere = sameIdentity("finding_rows", "d");
  // Numbered in the order they appear in each statement (SQLite binds `?` positionally).
  const p = (n: number) => param(t.caps, n, "text");
  // 1. Fixed but affected again: a new exposure, first seen now.
  const reopenedFixed = await t.run(
    "update finding_rows set fact = d.fact, status = 'open', status_reason = null, status_by = null, " +
      `status_expires_at = null, first_seen = ${p(1)}, due_at = d.due_new, updated_at = ${p(2)} ` +
      `${from} where ${identityWhere} and finding_rows.status = 'fixed'`,
    [nowIso, nowIso],
  );
  // 2. An accepted risk or a not-affected statement past its expiry: open again.
  const expired = (n: number) =>
    "finding_rows.status in ('accepted-risk', 'not-affected') and finding_rows.status_expires_at is not null " +
    `and finding_rows.status_expires_at <= ${p(n)}`;
  const reopened = await t.run(
    "update finding_rows set fact = d.fact, status = 'open', " +
      "status_reason = case finding_rows.status when 'accepted-risk' then 'risk acceptance expired at ' || finding_rows.status_expires_at " +
      "else 'not-affected statement lapsed at ' || finding_rows.status_expires_at || ': review it' end, " +
      `status_by = ${p(1)}, status_expires_at = null, due_at = r.due, updated_at = ${p(2)} ` +
      `${from} join ${t.ref("rm_due")} r on r.num = d.num and r.class = d.class ` +
      `where ${identityWhere} and r.first_seen = finding_rows.first_seen and ${expired(3)}`,
    [by, nowIso, nowIso],
  );
  // 3. Still affected, something moved: its facts (one integer: facts are unique by content) or its
  // due date.
  const updated = await t.run(
    `update finding_rows set fact = d.fact, due_at = r.due, updated_at = ${p(1)} ` +
      `${from} join ${t.ref("rm_due")} r on r.num = d.num and r.class = d.class ` +
      `where ${identityWhere} and r.first_seen = finding_rows.first_seen and finding_rows.status != 'fixed' ` +
      `and not (${expired(2)}) ` +
      "and (finding_rows.fact <> d.fact or coalesce(finding_rows.due_at, '') <> coalesce(r.due, ''))",
    [nowIso, nowIso],
  );
  // 4. New findings, numbered in the desired table's order.
  const before = await lastRowNum(trx);
  const opened = await t.run(
    "insert into finding_rows (set_num, package_id, vuln_num, fact, due_at, status, first_seen, updated_at) " +
      `select d.num, d.package_id, d.vuln_num, d.fact, d.due_new, 'open', ${p(1)}, ${p(2)} ${from} ` +
      `where not exists (select 1 from finding_rows x where ${sameIdentity("x", "d")}) order by d.seq ` +
      // A concurrent report (PostgreSQL) may have inserted it first: it stands.
      "on conflict (set_num, package_id, vuln_num) do nothing",
    [nowIso, nowIso],
  );
  // 5. Stored, unresolved and no longer matched: fixed.
  const fixed = await t.run(
    `update finding_rows set status = 'fixed', status_reason = 'no longer affected', status_by = ${p(1)}, ` +
      `status_expires_at = null, updated_at = ${p(2)} ` +
      `where finding_rows.set_num in (select num from ${t.ref("rm_assets")}) and finding_rows.status != 'fixed' ` +
      `and not exists (select 1 from ${t.ref("rm_desired")} d where ${identityWhere})`,
    [by, nowIso],
  );
  const counts: ChunkCounts = {
    sets: input.sets.length,
    perSet,
    opened: opened + reopenedFixed,
    updated,
    reopened,
    fixed,
    unchanged: desired - opened - reopenedFixed - reopened - updated,
  };
  const ids = opened > 0 ? await openedIds(trx, before) : [];
  await t.drop("rm_desired", "rm_due", "rm_facts", "rm_assets", "rm_pairs", "rm_packages");
  await auditChunk(trx, input.actor, input.now, counts, `${lo}-${hi}`, ids);
  return counts;
}

/**
 * New findings go in in identity order, numbered in it: each asset's rows then land side by side in the
 * identity index and their ids append to the primary key, instead of touching pages all over both.
 */
const IDENTITY_ORDER = "a.num, f.canon, f.vuln_num";

/** The highest row number of finding_rows: a chunk's new findings are numbered past it. */
async function lastRowNum(trx: Kysely<Database>): Promise<number> {
  const row = await trx
    .selectFrom("finding_rows")
    .select((eb) => eb.fn.max("num").as("n"))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The first ids of the findings a chunk opened (numbered past `after`), for its audit event. */
async function openedIds(trx: Kysely<Database>, after: number): Promise<string[]> {
  const rows = await trx
    .selectFrom("finding_rows")
    .select(["num", "text_id"])
    .where("num", ">", after)
    .orderBy("num")
    .limit(AUDITED_IDS)
    .execute();
  return rows.map((r) => r.text_id ?? derivedFindingId(Number(r.num)));
}

/**
 * The chunk's facts into finding_facts, each once (facts are immutable, unique by package,
 * vulnerability and content): rm_facts then carries each fact's number, its vulnerability's and the
 * finding's package (the lowest dictionary id of the matched package's ecosystem, name, arch, version).
 */
async function storeFacts(t: Temp, numbers: FactNumbers): Promise<void> {
  const f = t.ref("rm_facts");
  // Rows an earlier chunk numbered carry no content (core is null) and need nothing here.
  const fresh = "core is not null";
  if ((await t.rows<{ one: number }>(`select 1 as one from ${f} where ${fresh} limit 1`)).length === 0)
    return;
  // (`where true` tells SQLite's parser the ON CONFLICT is the upsert, not a join constraint.)
  await t.run(
    `insert into finding_vulns (vuln_id) select distinct vuln_id from ${f} where ${fresh} on conflict (vuln_id) do nothing`,
  );
  await t.run(
    `update ${f} set vuln_num = (select v.num from finding_vulns v where v.vuln_id = rm_facts.vuln_id), ` +
      "canon = (select min(q.id) from packages p join packages q on q.ecosystem = p.ecosystem and q.name = p.name " +
      `and q.arch = p.arch and q.version = p.version where p.id = rm_facts.package_id) where ${fresh}`,
  );
  await t.run(
    "insert into finding_facts (package_id, vuln_num, core, advisory_ids, aliases, fixed_version, severity_score, " +
      "severity_vector, epss, kev, risk_score, class) " +
      "select canon, vuln_num, core, advisory_ids, aliases, fixed_version, severity_score, severity_vector, epss, kev, " +
      `risk_score, class from ${f} where ${fresh} on conflict (package_id, vuln_num, core) do nothing`,
  );
  await t.run(
    `update ${f} set fact = (select k.num from finding_facts k where k.package_id = rm_facts.canon ` +
      `and k.vuln_num = rm_facts.vuln_num and k.core = rm_facts.core) where ${fresh}`,
  );
  for (const r of await t.rows<{
    package_id: number;
    vuln_id: string;
    core: string;
    canon: number;
    vuln_num: number;
    fact: number;
  }>(`select package_id, vuln_id, core, canon, vuln_num, fact from ${f} where ${fresh}`))
    numbers.learn(Number(r.package_id), r.vuln_id, r.core, [
      Number(r.canon),
      Number(r.vuln_num),
      Number(r.fact),
    ]);
}

/** The content columns of rm_facts, empty for a fact numbered already. */
const NO_CONTENT = [null, null, null, null, null, null, null, null] as const;

/**
 * The numbers of the facts this run stored or found (package, vulnerability, fact). Facts, package
 * ids and vulnerability numbers are never changed nor deleted once committed, so a later chunk reuses
 * them instead of sending each fact's content again. Numbers learnt in a chunk count only once its
 * write has committed: a write that is rolled back and run again learns them anew.
 */
class FactNumbers {
  readonly #committed = new Map<string, [number, number, number]>();
  #pending: Array<[string, [number, number, number]]> = [];

  static #key(packageId: number, vulnId: string, core: string): string {
    return `${packageId}${SEP}${vulnId}${SEP}${core}`;
  }

  get(packageId: number, f: FindingFacts): [number, number, number] | undefined {
    return this.#committed.get(FactNumbers.#key(packageId, f.vulnId, f.core));
  }

  learn(packageId: number, vulnId: string, core: string, numbers: [number, number, number]): void {
    this.#pending.push([FactNumbers.#key(packageId, vulnId, core), numbers]);
  }

  /** Drops what an attempt that did not commit learnt. */
  discard(): void {
    this.#pending = [];
  }

  commit(): void {
    for (const [k, v] of this.#pending) this.#committed.set(k, v);
    this.#pending = [];
  }
}

/**
 * A chunk whose assets have no stored finding (a first run): every desired finding is new, so they go
 * straight from the join into the table, with no comparison table, index or probe, and nothing to
 * update or fix.
 */
async function firstMatch(
  trx: Kysely<Database>,
  t: Temp,
  input: ChunkInput,
  source: (n: number) => string,
  sourceParams: readonly unknown[],
  dueNew: string,
): Promise<ChunkCounts> {
  const nowIso = input.now.toISOString();
  const p = (n: number) => param(t.caps, n, "text");
  const before = await lastRowNum(trx);
  const opened = await t.run(
    "insert into finding_rows (set_num, package_id, vuln_num, fact, due_at, status, first_seen, updated_at) " +
      `select a.num, f.canon, f.vuln_num, f.fact, ${dueNew}, 'open', ${p(1)}, ${p(2)} ${source(3)} ` +
      `order by ${IDENTITY_ORDER} ` +
      // A concurrent report (PostgreSQL) may have inserted one first, or two dictionary rows that differ
      // only in purl or source name one finding: the first stands.
      "on conflict (set_num, package_id, vuln_num) do nothing",
    [nowIso, nowIso, ...sourceParams],
  );
  const perSet = new Map<number, number>();
  for (const r of await t.rows<{ num: number | string; n: number | string }>(
    `select a.num, count(*) as n from ${t.ref("rm_assets")} a join finding_rows x on x.set_num = a.num group by a.num`,
  ))
    perSet.set(Number(r.num), Number(r.n));
  const counts: ChunkCounts = {
    sets: input.sets.length,
    perSet,
    opened,
    updated: 0,
    reopened: 0,
    fixed: 0,
    unchanged: 0,
  };
  const ids = opened > 0 ? await openedIds(trx, before) : [];
  await t.drop("rm_facts", "rm_assets", "rm_pairs", "rm_packages");
  const lo = input.sets[0]?.num ?? 0;
  await auditChunk(trx, input.actor, input.now, counts, `${lo}-${input.sets.at(-1)?.num ?? lo}`, ids);
  return counts;
}

/** One findings.changed event per chunk that changed anything, in the chunk's transaction. */
async function auditChunk(
  trx: Kysely<Database>,
  actor: Actor,
  now: Date,
  counts: ReconcileCounts,
  sets: string,
  openedIds: string[],
): Promise<void> {
  const changed = counts.opened + counts.updated + counts.reopened + counts.fixed;
  if (changed === 0) return;
  await appendAudit(
    trx,
    {
      actor: actorLabel(actor),
      action: "findings.changed",
      targetType: "findings",
      targetId: "all",
      data: {
        trigger: "full",
        sets,
        opened: counts.opened,
        updated: counts.updated,
        reopened: counts.reopened,
        fixed: counts.fixed,
        unchanged: counts.unchanged,
        ids: { opened: openedIds },
        idsTruncated: openedIds.length < changed,
      },
    },
    now,
  );
}
