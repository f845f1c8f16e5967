import type { Kysely, Selectable } from "kysely";
import { appendAudit } from "../../audit/log.js";
import { type Actor, actorLabel, SYSTEM_ACTOR } from "../../domain/roles.js";
import type { Policy } from "../../policy/schema.js";
import type { ServiceContext } from "../../service/context.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import { AdvisoryIndex } from "../matching/advisory-index.js";
import { ecosystemParts } from "../matching/ecosystem-key.js";
import { emptyMatchStats, type VulnerabilityMatch } from "../matching/match.js";
import { riskScore } from "../prioritise.js";
import { type AdvisoryKey, advisoryKeysFor, loadAdvisoryIndex } from "./advisory-loader.js";
import { type AssetContext, AssetContexts } from "./asset-context.js";
import { FindingWriter } from "./bulk-write.js";
import { DueDates } from "./due-date.js";
import { Evaluations } from "./evaluations.js";
import { cveOf, ExploitFacts } from "./exploit-facts.js";
import { findingsPolicy } from "./findings-policy.js";
import type { FindingsDelta } from "./fleet-rematch.js";
import { type InstalledRow, installedRowsForKeys, installedRowsOfAsset } from "./installed-rows.js";
import {
  AUDITED_IDS,
  type DesiredFinding,
  findingFacts,
  type ReconcileCounts,
  Reconciler,
  type StoredFinding,
} from "./reconcile.js";
import { keyParts, readStoredFindings, storedFindingFromRow } from "./stored-findings.js";

export {
  type FindingsDelta,
  type RematchAllOptions,
  type RematchPhase,
  rematchAll,
} from "./fleet-rematch.js";

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
const _ASSETS_PER_SLICE = 2000;
const IDS_PER_QUERY = 500;
const PAGE = 10_000;

type Trigger = "inventory" | "advisories" | "full" | "risk-refresh";

const identityOf = (p: { ecosystem: string; name: string; arch: string }) =>
  `${p.ecosystem}\u0000${p.name}\u0000${p.arch}`;

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
  /** The asset's installed rows now, when the caller has them (an inventory report): not read again. */
  current?: readonly InstalledRow[],
): Promise<FindingsDelta> {
  if (changed !== undefined && changed.length === 0) return emptyDelta();
  const scope = changed === undefined ? null : new Set(changed.map(identityOf));
  const names = changed === undefined ? undefined : [...new Set(changed.map((c) => c.name))];
  const rows = (current ?? (await installedRowsOfAsset(trx, assetId, names))).filter(
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
