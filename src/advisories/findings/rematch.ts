/**
 * Matching the stored inventory against the stored advisories into findings: for one asset (inside
 * its inventory report's transaction), for the packages an advisory import touched, or for the whole
 * fleet. Each run writes its changes in bulk and one `findings.changed` audit event in the same
 * transaction.
 */
import { performance } from "node:perf_hooks";
import type { Kysely, Selectable } from "kysely";
import { appendAudit } from "../../audit/log.js";
import { type Actor, actorLabel, SYSTEM_ACTOR } from "../../domain/roles.js";
import type { ChangeClass, Policy } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { ecosystemParts } from "../matching/ecosystem-key.js";
import {
  emptyMatchStats,
  type MatchStats,
  matchPackage,
  type VulnerabilityMatch,
} from "../matching/match.js";
import { riskScore } from "../prioritise.js";
import { type AdvisoryKey, advisoryKeysFor, loadAdvisoryIndex } from "./advisory-loader.js";
import { type AssetContext, AssetContexts } from "./asset-context.js";
import { FindingWriter } from "./bulk-write.js";
import { DueDates } from "./due-date.js";
import { cveOf, ExploitFacts } from "./exploit-facts.js";
import { findingsPolicy } from "./findings-policy.js";
import {
  distinctPackageVersions,
  type FannedRow,
  type InstalledRow,
  installedRowsForKeys,
  installedRowsOfAsset,
  installedRowsOfVersions,
  type PackageVersion,
} from "./installed-rows.js";
import {
  AUDITED_IDS,
  type DesiredFinding,
  type FindingFacts,
  findingFacts,
  type ReconcileCounts,
  Reconciler,
  type StoredFinding,
} from "./reconcile.js";
import {
  type AssetDue,
  type FactsOfVersion,
  insertAllFindings,
  MAX_VULNS_PER_VERSION,
} from "./set-insert.js";
import { keyParts, readStoredFindings, storedFindingFromRow } from "./stored-findings.js";

export interface FindingsDelta extends ReconcileCounts {
  /** Distinct package versions evaluated against the advisories. */
  packages: number;
  stats: MatchStats;
}

export interface RematchAllOptions {
  /** Called as the run advances; `total` may grow as later phases learn their size. */
  onProgress?(done: number, total: number): void;
  /** Who asked for the run (recorded on the audit event); the system by default. */
  actor?: Actor;
  /** Called as each phase ends with its wall time, to tell where a run spends it. */
  onPhase?(phase: RematchPhase, ms: number): void;
}

export type RematchPhase =
  | "distinct versions read"
  | "advisories loaded"
  | "versions matched"
  | "affected rows read"
  | "stored findings read"
  | "findings compared and written";

/** A package that moved, appeared or went: the identity an inventory change names. */
export interface PackageIdentity {
  ecosystem: string;
  name: string;
  arch: string;
}

const emptyDelta = (): FindingsDelta => ({
  opened: 0,
  updated: 0,
  reopened: 0,
  fixed: 0,
  unchanged: 0,
  packages: 0,
  stats: emptyMatchStats(),
});

/**
 * Runs are long and write many rows: each commits on its own (see WriteOptions), and on PostgreSQL runs
 * again from the start when it loses a deadlock to an inventory report.
 */
const LONG_WRITE = { alone: true } as const;

/** Findings written per batch of a run. */
const BATCH = 5000;
/** Assets compared at a time in a full re-match (see rematchAll). */
const ASSETS_PER_SLICE = 2000;
const IDS_PER_QUERY = 500;
const PAGE = 10_000;

type Trigger = "inventory" | "advisories" | "full" | "risk-refresh";

const identityOf = (p: { ecosystem: string; name: string; arch: string }) =>
  `${p.ecosystem}\u0000${p.name}\u0000${p.arch}`;

/**
 * The matcher over one run: each distinct package version is evaluated once. Debian and Ubuntu
 * packages are matched through their source name and version (the matcher's contract), so the
 * binaries of one source share one evaluation too.
 */
class Evaluations {
  readonly stats = emptyMatchStats();
  readonly #index: AdvisoryIndex;
  readonly #bySubject = new Map<string, VulnerabilityMatch[]>();
  readonly #facts = new WeakMap<VulnerabilityMatch, Map<string, FindingFacts>>();
  #evaluated = 0;

  constructor(index: AdvisoryIndex) {
    this.#index = index;
  }

  /** Package versions evaluated (distinct matching subjects). */
  get evaluated(): number {
    return this.#evaluated;
  }

  matches(v: PackageVersion): VulnerabilityMatch[] {
    const base = ecosystemParts(v.ecosystem).base;
    const bySource = (base === "Debian" || base === "Ubuntu") && Boolean(v.source_name);
    const name = bySource ? (v.source_name as string) : v.name;
    const version = bySource && v.source_version ? v.source_version : v.version;
    const subject = `${v.ecosystem}\u0000${name}\u0000${version}`;
    let found = this.#bySubject.get(subject);
    if (found === undefined) {
      found = matchPackage(
        {
          ecosystem: v.ecosystem,
          name: v.name,
          version: v.version,
          sourceName: v.source_name,
          sourceVersion: v.source_version,
        },
        this.#index,
        this.stats,
      );
      this.#bySubject.set(subject, found);
      this.#evaluated += 1;
    }
    return found;
  }

  /**
   * The facts of a match for an asset, built once per match and kind of asset (criticality and the
   * labels the risk formula reads) however many assets share them.
   */
  facts(m: VulnerabilityMatch, asset: AssetContext, exploit: ExploitFacts, policy: Policy): FindingFacts {
    const kind = asset.riskKind;
    let byKind = this.#facts.get(m);
    if (byKind === undefined) {
      byKind = new Map();
      this.#facts.set(m, byKind);
    }
    let facts = byKind.get(kind);
    if (facts === undefined) {
      const kev = exploit.knownExploited(m.aliases);
      const epss = exploit.epss(m.aliases);
      const risk = riskScore({ cvss: m.severity.score, epss, knownExploited: kev, ...asset.risk }, policy);
      facts = findingFacts({
        vulnId: m.vulnId,
        advisoryIds: JSON.stringify(m.advisoryIds),
        aliases: JSON.stringify(m.aliases),
        fixedVersion: m.fixed,
        severityScore: m.severity.score,
        severityVector: m.severity.vector,
        epss,
        kev: kev ? 1 : 0,
        riskScore: risk.score,
        class: risk.class,
      });
      byKind.set(kind, facts);
    }
    return facts;
  }
}

/** Everything a run needs besides the rows: policy, facts, asset contexts and the due-date calendar. */
interface RunSetup {
  now: Date;
  actor: Actor;
  policy: Policy;
  evaluations: Evaluations;
  facts: ExploitFacts;
  assets: ReadonlyMap<string, AssetContext>;
  dueDates: DueDates;
}

function desired(
  setup: RunSetup,
  assetId: string,
  ecosystem: string,
  name: string,
  arch: string,
  version: string,
  m: VulnerabilityMatch,
  asset: AssetContext,
): DesiredFinding {
  return {
    assetId,
    ecosystem,
    packageName: name,
    arch,
    installedVersion: version,
    facts: setup.evaluations.facts(m, asset, setup.facts, setup.policy),
  };
}

function reconcilerFor(setup: RunSetup, stored: Iterable<StoredFinding>): Reconciler {
  return new Reconciler(stored, {
    now: setup.now,
    by: actorLabel(setup.actor),
    dueAt: (assetId, cls, firstSeen) => {
      const asset = setup.assets.get(assetId);
      return asset === undefined ? null : setup.dueDates.at(cls, asset.sla[cls], firstSeen);
    },
  });
}

/** The counts and the (capped) changed ids of a run that reconciles in several parts. */
class Tally {
  readonly counts: ReconcileCounts = { opened: 0, updated: 0, reopened: 0, fixed: 0, unchanged: 0 };
  readonly ids: Reconciler["changedIds"] = { opened: [], updated: [], reopened: [], fixed: [] };
  #listed = 0;

  add(reconciler: Reconciler): void {
    for (const kind of ["opened", "updated", "reopened", "fixed", "unchanged"] as const)
      this.counts[kind] += reconciler.counts[kind];
    for (const kind of ["opened", "updated", "reopened", "fixed"] as const) {
      for (const id of reconciler.changedIds[kind]) {
        if (this.#listed >= AUDITED_IDS) return;
        this.ids[kind].push(id);
        this.#listed += 1;
      }
    }
  }
}

/**
 * Writes one reconciler's inserts and updates, then marks fixed the stored findings no match claimed
 * (not for a risk refresh: it looks at findings, not at what is installed).
 */
async function writeChanges(
  trx: Kysely<Database>,
  setup: RunSetup,
  reconciler: Reconciler,
  markFixed: boolean,
  progress?: (done: number) => void,
): Promise<void> {
  const writer = new FindingWriter(trx);
  for (const batch of reconciler.batches(BATCH)) {
    await writer.insert(batch.inserts, setup.now);
    await writer.update(batch.updates);
    progress?.(batch.done);
  }
  if (markFixed) {
    await writer.markFixed(reconciler.fixedIds(), "no longer affected", actorLabel(setup.actor), setup.now);
  }
}

/** The run's delta, and its one audit event when anything changed. */
async function finishRun(
  trx: Kysely<Database>,
  setup: RunSetup,
  tally: Tally,
  audit: { trigger: Trigger; targetType: string; targetId: string; extra?: Record<string, unknown> },
): Promise<FindingsDelta> {
  const { counts } = tally;
  const delta: FindingsDelta = {
    ...counts,
    packages: setup.evaluations.evaluated,
    stats: { ...setup.evaluations.stats },
  };
  const changed = counts.opened + counts.updated + counts.reopened + counts.fixed;
  if (changed > 0) {
    await appendAudit(
      trx,
      {
        actor: actorLabel(setup.actor),
        action: "findings.changed",
        targetType: audit.targetType,
        targetId: audit.targetId,
        data: {
          trigger: audit.trigger,
          ...audit.extra,
          opened: counts.opened,
          updated: counts.updated,
          reopened: counts.reopened,
          fixed: counts.fixed,
          unchanged: counts.unchanged,
          packages: delta.packages,
          ids: tally.ids,
          idsTruncated: changed > AUDITED_IDS,
        },
      },
      setup.now,
    );
  }
  return delta;
}

/** Writes one reconciler's changes and finishes the run with them. */
async function commit(
  trx: Kysely<Database>,
  setup: RunSetup,
  reconciler: Reconciler,
  audit: { trigger: Trigger; targetType: string; targetId: string; extra?: Record<string, unknown> },
): Promise<FindingsDelta> {
  await writeChanges(trx, setup, reconciler, audit.trigger !== "risk-refresh");
  const tally = new Tally();
  tally.add(reconciler);
  return finishRun(trx, setup, tally, audit);
}

async function storedFindingsOf(
  db: Kysely<Database>,
  assetIds: readonly string[],
  inScope: (assetId: string, identity: string) => boolean,
): Promise<StoredFinding[]> {
  return (await readStoredFindings(db, assetIds)).filter((s) => {
    const [assetId, ecosystem, name, arch] = keyParts(s.key);
    return inScope(assetId, identityOf({ ecosystem, name, arch }));
  });
}

/** Re-matches a set of installed rows (one asset's, or those named by advisory keys). */
async function rematchRows(
  trx: Kysely<Database>,
  rows: InstalledRow[],
  stored: StoredFinding[],
  run: {
    now: Date;
    actor: Actor;
    trigger: Trigger;
    targetType: string;
    targetId: string;
    extra?: Record<string, unknown>;
  },
): Promise<FindingsDelta> {
  const policy = await findingsPolicy(trx);
  const index = await loadAdvisoryIndex(
    trx,
    advisoryKeysFor(rows.map((r) => ({ ecosystem: r.ecosystem, name: r.name, sourceName: r.source_name }))),
  );
  const evaluations = new Evaluations(index);
  const matched = rows.map((r) => evaluations.matches(r));
  const setup: RunSetup = {
    now: run.now,
    actor: run.actor,
    policy,
    evaluations,
    facts: await ExploitFacts.load(
      trx,
      matched.flat().flatMap((m) => m.aliases),
    ),
    assets: await new AssetContexts(policy).load(trx, [
      ...new Set(rows.filter((_, i) => (matched[i]?.length ?? 0) > 0).map((r) => r.asset_id)),
    ]),
    dueDates: new DueDates(policy),
  };
  const reconciler = reconcilerFor(setup, stored);
  rows.forEach((row, i) => {
    const asset = setup.assets.get(row.asset_id);
    if (asset === undefined) return;
    for (const m of matched[i] ?? [])
      reconciler.offer(
        desired(setup, row.asset_id, row.ecosystem, row.name, row.arch, row.version, m, asset),
      );
  });
  return commit(trx, setup, reconciler, run);
}

/**
 * Re-matches one asset inside the caller's transaction (the inventory report's). With `changed`, only
 * those packages (inserted, removed or changed rows) are re-matched, so a small upgrade stays cheap
 * on a large advisory database; without it, all of the asset's packages.
 */
export async function rematchAsset(
  trx: Kysely<Database>,
  assetId: string,
  now: Date,
  changed?: ReadonlyArray<PackageIdentity>,
): Promise<FindingsDelta> {
  if (changed !== undefined && changed.length === 0) return emptyDelta();
  const scope = changed === undefined ? null : new Set(changed.map(identityOf));
  const names = changed === undefined ? undefined : [...new Set(changed.map((c) => c.name))];
  const rows = (await installedRowsOfAsset(trx, assetId, names)).filter(
    (r) => scope === null || scope.has(identityOf(r)),
  );
  const stored = (await readStoredFindings(trx, [assetId], names)).filter((s) => {
    const [, ecosystem, name, arch] = keyParts(s.key);
    return scope === null || scope.has(identityOf({ ecosystem, name, arch }));
  });
  if (rows.length === 0 && stored.every((s) => s.status === "fixed")) return emptyDelta();
  return rematchRows(trx, rows, stored, {
    now,
    actor: SYSTEM_ACTOR,
    trigger: "inventory",
    targetType: "asset",
    targetId: assetId,
  });
}

/**
 * After an advisory import: re-matches, across the fleet, only the installed packages filed under
 * these keys (by name, and by source name for Debian and Ubuntu). `ecosystem` may name a release
 * ("Debian:12"): every release of the ecosystem is re-matched.
 */
export async function rematchPackages(
  ctx: ServiceContext,
  keys: ReadonlyArray<{ ecosystem: string; name: string }>,
): Promise<FindingsDelta> {
  return ctx.store.write((trx) => rematchPackagesIn(trx, ctx.now(), keys), LONG_WRITE);
}

/** The advisory keys a re-match of these packages looks up: base ecosystems, supported ones only. */
export function canonicalAdvisoryKeys(
  keys: ReadonlyArray<{ ecosystem: string; name: string }>,
): AdvisoryKey[] {
  const canonical: AdvisoryKey[] = [];
  for (const k of keys) {
    const parts = ecosystemParts(k.ecosystem);
    if (parts.supported) canonical.push({ ecosystem: parts.base, name: k.name });
  }
  return canonical;
}

/** rematchPackages inside the caller's transaction (the owed work's, deleted with it). */
export async function rematchPackagesIn(
  trx: Kysely<Database>,
  now: Date,
  keys: ReadonlyArray<{ ecosystem: string; name: string }>,
): Promise<FindingsDelta> {
  const canonical = canonicalAdvisoryKeys(keys);
  const rows = await installedRowsForKeys(trx, canonical);
  const identities = new Set(rows.map((r) => `${r.asset_id}\u0000${identityOf(r)}`));
  const stored = await storedFindingsOf(
    trx,
    rows.map((r) => r.asset_id),
    (assetId, identity) => identities.has(`${assetId}\u0000${identity}`),
  );
  return rematchRows(trx, rows, stored, {
    now,
    actor: SYSTEM_ACTOR,
    trigger: "advisories",
    targetType: "findings",
    targetId: "packages",
    extra: { keys: canonical.slice(0, AUDITED_IDS), keyCount: canonical.length },
  });
}

/**
 * The findings of a first full run (none stored): the facts of each affected version per kind of
 * asset and each asset's due dates (first seen now) go to the database, which fans them out over the
 * installed rows (see set-insert.ts). The tally lists the first ids, all of them opened.
 */
async function insertFirstFindings(
  trx: Kysely<Database>,
  setup: RunSetup,
  affected: readonly PackageVersion[],
  affectedMatches: readonly VulnerabilityMatch[][],
): Promise<Tally> {
  const nowIso = setup.now.toISOString();
  // One asset stands for its kind: the facts depend on nothing else of it.
  const byKind = new Map<string, AssetContext>();
  const dues: AssetDue[] = [];
  for (const [assetId, asset] of setup.assets) {
    if (!byKind.has(asset.riskKind)) byKind.set(asset.riskKind, asset);
    const due = (cls: ChangeClass) => setup.dueDates.at(cls, asset.sla[cls], nowIso);
    dues.push({
      assetId,
      kind: asset.riskKind,
      due: { emergency: due("emergency"), high: due("high"), routine: due("routine") },
    });
  }
  const facts: FactsOfVersion[] = [];
  affectedMatches.forEach((matches, k) => {
    for (const [kind, asset] of byKind) {
      // Should two matches name one vulnerability, the reconciler keeps the first: so does the facts table.
      const seen = new Set<string>();
      for (const m of matches) {
        if (seen.has(m.vulnId)) continue;
        facts.push({
          k,
          kind,
          n: seen.size,
          facts: setup.evaluations.facts(m, asset, setup.facts, setup.policy),
        });
        seen.add(m.vulnId);
      }
    }
  });
  const tally = new Tally();
  tally.counts.opened = await insertAllFindings(trx, affected, facts, dues, setup.now);
  const ids = await trx.selectFrom("findings").select("id").orderBy("id").limit(AUDITED_IDS).execute();
  tally.ids.opened.push(...ids.map((r) => r.id));
  return tally;
}

/**
 * Re-matches the whole fleet in one transaction: each distinct package version is evaluated once
 * (one scan of the installed table), then only the rows of affected versions are read (a second
 * scan joined to them) and fanned out to findings, which are written in bulk.
 */
export async function rematchAll(
  ctx: ServiceContext,
  options: RematchAllOptions = {},
): Promise<FindingsDelta> {
  const actor = options.actor ?? SYSTEM_ACTOR;
  let lap = performance.now();
  const phase = (name: RematchPhase) => {
    const at = performance.now();
    options.onPhase?.(name, at - lap);
    lap = at;
  };
  return ctx.store.write(async (trx) => {
    const now = ctx.now();
    const policy = await findingsPolicy(trx);
    // Versions with and without a source, or with an empty one, are the same package to the matcher.
    const versions = new Map<string, PackageVersion>();
    for (const v of await distinctPackageVersions(trx)) {
      const norm = { ...v, source_name: v.source_name || null, source_version: v.source_version || null };
      versions.set(
        `${norm.ecosystem}\u0000${norm.name}\u0000${norm.version}\u0000${norm.source_name ?? ""}\u0000${norm.source_version ?? ""}`,
        norm,
      );
    }
    phase("distinct versions read");
    // Only the advisories filed under an installed name or source name can match anything.
    const keys = advisoryKeysFor(
      [...versions.values()].map((v) => ({
        ecosystem: v.ecosystem,
        name: v.name,
        sourceName: v.source_name,
      })),
    );
    const evaluations = new Evaluations(await loadAdvisoryIndex(trx, keys));
    phase("advisories loaded");
    let total = versions.size + 1;
    let done = 0;
    const report = (step: number, every: number) => {
      done += step;
      if (options.onProgress && (done % every < step || done === total)) options.onProgress(done, total);
    };
    const affected: PackageVersion[] = [];
    const affectedMatches: VulnerabilityMatch[][] = [];
    for (const v of versions.values()) {
      const matches = evaluations.matches(v);
      if (matches.length > 0) {
        affected.push(v);
        affectedMatches.push(matches);
      }
      report(1, 500);
    }
    phase("versions matched");
    const setup: RunSetup = {
      now,
      actor,
      policy,
      evaluations,
      facts: await ExploitFacts.load(
        trx,
        affectedMatches.flat().flatMap((m) => m.aliases),
      ),
      assets: await new AssetContexts(policy).load(trx),
      dueDates: new DueDates(policy),
    };
    const assetIds = [...setup.assets.keys()].sort();
    total = versions.size + assetIds.length;
    const firstRun =
      affectedMatches.every((m) => m.length < MAX_VULNS_PER_VERSION) &&
      (await trx.selectFrom("findings").select("id").limit(1).executeTakeFirst()) === undefined;
    if (firstRun) {
      // A first run: nothing to compare with, so the database writes every finding itself.
      phase("affected rows read");
      phase("stored findings read");
      const tally = await insertFirstFindings(trx, setup, affected, affectedMatches);
      report(assetIds.length, 1);
      phase("findings compared and written");
      return finishRun(trx, setup, tally, { trigger: "full", targetType: "findings", targetId: "all" });
    }
    const rows = await installedRowsOfVersions(trx, affected);
    phase("affected rows read");

    // The fleet is compared a slice of assets at a time, so only one slice's matched findings (and
    // the index of its stored ones) are in memory at once.
    const slices = Math.max(1, Math.ceil(assetIds.length / ASSETS_PER_SLICE));
    const sliceOf = new Map(assetIds.map((id, i) => [id, Math.floor(i / ASSETS_PER_SLICE)]));
    const rowsBySlice: FannedRow[][] = Array.from({ length: slices }, () => []);
    for (const row of rows) rowsBySlice[sliceOf.get(row.asset_id) ?? 0]?.push(row);
    rows.length = 0;
    // Stored findings are read in one pass in primary-key order (sequential, unlike a lookup per asset).
    const storedBySlice: StoredFinding[][] = Array.from({ length: slices }, () => []);
    for (const stored of await readStoredFindings(trx)) {
      storedBySlice[sliceOf.get(keyParts(stored.key)[0]) ?? 0]?.push(stored);
    }
    phase("stored findings read");
    const tally = new Tally();
    for (let slice = 0; slice < slices; slice++) {
      const ids = assetIds.slice(slice * ASSETS_PER_SLICE, (slice + 1) * ASSETS_PER_SLICE);
      const reconciler = reconcilerFor(setup, storedBySlice[slice] ?? []);
      storedBySlice[slice] = [];
      for (const row of rowsBySlice[slice] ?? []) {
        const v = affected[row.k];
        const asset = setup.assets.get(row.asset_id);
        if (v === undefined || asset === undefined) continue;
        for (const m of affectedMatches[row.k] ?? [])
          reconciler.offer(desired(setup, row.asset_id, v.ecosystem, v.name, row.arch, v.version, m, asset));
      }
      rowsBySlice[slice] = [];
      await writeChanges(trx, setup, reconciler, true);
      tally.add(reconciler);
      report(ids.length, 1);
    }
    phase("findings compared and written");
    return finishRun(trx, setup, tally, { trigger: "full", targetType: "findings", targetId: "all" });
  }, LONG_WRITE);
}

/** Above this many CVEs (a daily EPSS file names them all) every unresolved finding is read instead. */
export const CVES_FOR_LOOKUP = 2000;

/** Every unresolved finding, read a page at a time in primary-key order. */
async function unresolvedFindings(db: Kysely<Database>): Promise<Selectable<FindingsTable>[]> {
  const out: Selectable<FindingsTable>[] = [];
  let after = "";
  for (;;) {
    const rows = await db
      .selectFrom("findings")
      .selectAll()
      .where("status", "!=", "fixed")
      .where("id", ">", after)
      .orderBy("id")
      .limit(PAGE)
      .execute();
    out.push(...rows);
    const last = rows.at(-1);
    if (last === undefined || rows.length < PAGE) return out;
    after = last.id;
  }
}

/** Unresolved findings that may name one of the CVEs: by their display id and the CVEs' alias groups. */
async function findingsNaming(
  db: Kysely<Database>,
  cves: ReadonlySet<string>,
): Promise<Selectable<FindingsTable>[]> {
  const unresolved = () => db.selectFrom("findings").selectAll().where("status", "!=", "fixed");
  const out: Selectable<FindingsTable>[] = [];
  if (cves.size > CVES_FOR_LOOKUP) return unresolvedFindings(db);
  // A finding's display id is one of its ids: a CVE, or an advisory id when it has no CVE (Debian's
  // and Ubuntu's per-CVE records carry the CVE in their own id).
  const ids = new Set<string>();
  for (const cve of cves) for (const prefix of ["", "DEBIAN-", "UBUNTU-"]) ids.add(`${prefix}${cve}`);
  const list = [...cves];
  for (let i = 0; i < list.length; i += IDS_PER_QUERY) {
    const advisories = await db
      .selectFrom("advisory_aliases")
      .select("advisory_id")
      .where("alias", "in", list.slice(i, i + IDS_PER_QUERY))
      .execute();
    const advisoryIds = [...new Set(advisories.map((a) => a.advisory_id))];
    for (let j = 0; j < advisoryIds.length; j += IDS_PER_QUERY) {
      for (const a of await db
        .selectFrom("advisories")
        .select(["id", "aliases"])
        .where("id", "in", advisoryIds.slice(j, j + IDS_PER_QUERY))
        .execute()) {
        ids.add(a.id);
        for (const alias of JSON.parse(a.aliases) as string[]) ids.add(alias);
      }
    }
  }
  const all = [...ids];
  for (let i = 0; i < all.length; i += IDS_PER_QUERY) {
    out.push(
      ...(await unresolved()
        .where("vuln_id", "in", all.slice(i, i + IDS_PER_QUERY))
        .execute()),
    );
  }
  return out;
}

/**
 * After a KEV or EPSS import: recomputes the exploitation facts, risk, class and due date of the
 * unresolved findings that name any of these CVEs. Returns how many findings changed.
 */
export async function refreshRiskForCves(ctx: ServiceContext, cves: string[]): Promise<number> {
  const wanted = new Set(cves);
  if (wanted.size === 0) return 0;
  return ctx.store.write((trx) => refreshRiskIn(trx, ctx.now(), wanted), LONG_WRITE);
}

/**
 * refreshRiskForCves inside the caller's transaction (the owed work's, deleted with it); "all"
 * re-classifies every unresolved finding, for imports that touched too many CVEs to name.
 */
export async function refreshRiskIn(
  trx: Kysely<Database>,
  now: Date,
  wanted: ReadonlySet<string> | "all",
): Promise<number> {
  const rows =
    wanted === "all"
      ? await unresolvedFindings(trx)
      : (await findingsNaming(trx, wanted)).filter((row) =>
          (JSON.parse(row.aliases) as string[]).some((id) => wanted.has(cveOf(id) ?? id)),
        );
  if (rows.length === 0) return 0;
  const policy = await findingsPolicy(trx);
  const setup: RunSetup = {
    now,
    actor: SYSTEM_ACTOR,
    policy,
    evaluations: new Evaluations(new AdvisoryIndex()),
    facts: await ExploitFacts.load(
      trx,
      rows.flatMap((r) => JSON.parse(r.aliases) as string[]),
    ),
    assets: await new AssetContexts(policy).load(
      trx,
      rows.map((r) => r.asset_id),
    ),
    dueDates: new DueDates(policy),
  };
  const reconciler = reconcilerFor(setup, rows.map(storedFindingFromRow));
  for (const row of rows) {
    const asset = setup.assets.get(row.asset_id);
    if (asset === undefined) continue;
    const aliases = JSON.parse(row.aliases) as string[];
    const kev = setup.facts.knownExploited(aliases);
    const epss = setup.facts.epss(aliases);
    const severityScore = row.severity_score === null ? null : Number(row.severity_score);
    const risk = riskScore({ cvss: severityScore, epss, knownExploited: kev, ...asset.risk }, policy);
    // The match's own facts stay as stored; only the exploitation facts and what follows from them move.
    reconciler.offer({
      assetId: row.asset_id,
      ecosystem: row.ecosystem,
      packageName: row.package_name,
      arch: row.arch,
      installedVersion: row.installed_version,
      facts: findingFacts({
        vulnId: row.vuln_id,
        advisoryIds: row.advisory_ids,
        aliases: row.aliases,
        fixedVersion: row.fixed_version,
        severityScore,
        severityVector: row.severity_vector,
        epss,
        kev: kev ? 1 : 0,
        riskScore: risk.score,
        class: risk.class,
      }),
    });
  }
  const delta = await commit(trx, setup, reconciler, {
    trigger: "risk-refresh",
    targetType: "findings",
    targetId: "risk",
    extra: { cves: wanted === "all" ? "all" : wanted.size },
  });
  return delta.updated + delta.reopened;
}
