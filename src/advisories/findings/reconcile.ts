/**
 * The finding lifecycle of a re-match, as pure logic: the findings the matcher says should exist are
 * compared with the stored ones of the same scope, and what to insert, update and mark fixed follows.
 *
 *   new match                          → insert `open`, first seen now; when the asset had the package
 *                                        at another version with this vulnerability and no longer has
 *                                        that version, that finding moves to the new version instead
 *   still affected                     → update what moved (installed and fixed version, severity,
 *                                        risk, class, due date); first seen and status are kept
 *   accepted-risk past its expiry      → `open` again
 *   not-affected past its expiry or    → `open` again (the statement is to be made again)
 *   review date
 *   `fixed` but affected again         → `open`, first seen now (a new exposure)
 *   stored, not matched any more       → `fixed` (kept for history)
 */

import type { ChangeClass } from "../../policy/schema.js";
import type { FindingsTable } from "../../store/schema.js";
import { newFindingId } from "./finding-id.js";

/** Separates the parts of a finding's key and fingerprint; no id, version or JSON text contains it. */
export const SEP = "\u001f";

/**
 * What a match says about one vulnerability of one package version, with the risk for one kind of
 * asset: shared by every finding that has the same facts, so a fleet-wide run builds it once.
 */
export interface FindingFacts {
  vulnId: string;
  /** JSON arrays, as stored. */
  advisoryIds: string;
  aliases: string;
  fixedVersion: string | null;
  severityScore: number | null;
  severityVector: string | null;
  epss: number | null;
  kev: 0 | 1;
  riskScore: number;
  class: ChangeClass;
  /** The compared columns between the installed version and the due date, folded (see fingerprint). */
  core: string;
}

/** A finding as the matcher and the prioritiser computed it. */
export interface DesiredFinding {
  assetId: string;
  ecosystem: string;
  packageName: string;
  arch: string;
  installedVersion: string;
  facts: FindingFacts;
}

/**
 * Numbers are compared as integers of their stored precision (CVSS and risk in tenths, EPSS in
 * millionths): PostgreSQL keeps `real` columns in single precision, and the store computes the same
 * text (see stored-findings.ts).
 */
const scaled = (n: number | string | null, factor: number): string =>
  n === null ? "" : String(Math.round(Number(n) * factor));

export function findingFacts(f: Omit<FindingFacts, "core">): FindingFacts {
  const core = [
    f.advisoryIds,
    f.aliases,
    f.fixedVersion ?? "",
    scaled(f.severityScore, 10),
    f.severityVector ?? "",
    scaled(f.epss, 1_000_000),
    String(f.kev),
    scaled(f.riskScore, 10),
    f.class,
  ].join(SEP);
  return { ...f, core };
}

/** The compared columns of a finding folded into one string: installed version, facts, due date. */
export function fingerprint(installedVersion: string, facts: FindingFacts, dueAt: string | null): string {
  return `${installedVersion}${SEP}${facts.core}${SEP}${dueAt ?? ""}`;
}

/** What the comparison needs of a stored finding (read by stored-findings.ts). */
export interface StoredFinding {
  id: string;
  key: string;
  status: string;
  statusReason: string | null;
  statusBy: string | null;
  statusExpiresAt: string | null;
  firstSeen: string;
  fingerprint: string;
}

/** A new finding's columns; status, first seen and updated are those of every new finding (open, now). */
export type NewFinding = Omit<
  FindingsTable,
  | "status"
  | "status_reason"
  | "status_by"
  | "status_expires_at"
  | "first_seen"
  | "updated_at"
  | "row_num"
  | "set_num"
>;

/** Every column but the identity ones: what an update rewrites. */
export type FindingUpdate = Omit<
  FindingsTable,
  "asset_id" | "ecosystem" | "package_name" | "arch" | "vuln_id" | "row_num" | "set_num"
>;

export interface ReconcileCounts {
  /** New findings, and fixed ones affected again. */
  opened: number;
  /** Still affected with something changed. */
  updated: number;
  /** Accepted risks whose expiry passed, open again. */
  reopened: number;
  /** No longer affected. */
  fixed: number;
  unchanged: number;
}

/** How many finding ids an audit event lists; the counts are always exact. */
export const AUDITED_IDS = 200;

/**
 * A finding's identity: one per installed version, so an asset with three versions of a package has
 * three findings, each with its own fixed version (as the offline scan reports them).
 */
export function findingKey(
  assetId: string,
  ecosystem: string,
  packageName: string,
  arch: string,
  installedVersion: string,
  vulnId: string,
): string {
  return `${assetId}${SEP}${ecosystem}${SEP}${packageName}${SEP}${arch}${SEP}${installedVersion}${SEP}${vulnId}`;
}

/** The identity without the installed version: what a version move keeps. */
function packageVulnKey(key: string): string {
  const parts = key.split(SEP);
  parts.splice(4, 1);
  return parts.join(SEP);
}

export interface ReconcileOptions {
  now: Date;
  /** Actor label recorded as status_by on the status changes a re-match makes. */
  by: string;
  /** The due date (ISO) of a finding of this asset and class first seen then. */
  dueAt(assetId: string, cls: ChangeClass, firstSeen: string): string | null;
}

/**
 * Compares matched findings with the stored ones of the same scope. Feed every matched finding to
 * offer(), then take the writes from batches(), then fixedIds() names the stored findings that no
 * match claimed.
 */
export class Reconciler {
  readonly counts: ReconcileCounts = { opened: 0, updated: 0, reopened: 0, fixed: 0, unchanged: 0 };
  /** Up to AUDITED_IDS ids of changed findings, by kind. */
  readonly changedIds: Record<"opened" | "updated" | "reopened" | "fixed", string[]> = {
    opened: [],
    updated: [],
    reopened: [],
    fixed: [],
  };
  readonly #stored = new Map<string, StoredFinding>();
  readonly #desired = new Map<string, DesiredFinding>();
  /** Stored findings taken over by a new installed version of their package (see #moved). */
  readonly #moved = new Set<string>();
  readonly #options: ReconcileOptions;
  readonly #nowIso: string;
  #listed = 0;

  constructor(stored: Iterable<StoredFinding>, options: ReconcileOptions) {
    for (const s of stored) this.#stored.set(s.key, s);
    this.#options = options;
    this.#nowIso = options.now.toISOString();
  }

  /** Matched findings offered so far (one per identity). */
  get size(): number {
    return this.#desired.size;
  }

  /** One matched finding (one per installed version: an SBOM may list several of one package). */
  offer(d: DesiredFinding): void {
    const key = findingKey(d.assetId, d.ecosystem, d.packageName, d.arch, d.installedVersion, d.facts.vulnId);
    if (!this.#desired.has(key)) this.#desired.set(key, d);
  }

  /**
   * A stored finding of the same package and vulnerability at a version no match claims: the package
   * moved to this version and is still affected, so the finding (its status and first-seen time) moves
   * with it. Versions are taken in text order, so the pairing does not depend on offer order.
   */
  #movedFrom(key: string): StoredFinding | undefined {
    if (this.#byPackageVuln === null) {
      this.#byPackageVuln = new Map();
      const sorted = [...this.#stored.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const s of sorted) {
        if (this.#desired.has(s.key)) continue;
        const k = packageVulnKey(s.key);
        this.#byPackageVuln.set(k, [...(this.#byPackageVuln.get(k) ?? []), s]);
      }
    }
    const candidates = this.#byPackageVuln.get(packageVulnKey(key));
    const found = candidates?.shift();
    if (found !== undefined) this.#moved.add(found.key);
    return found;
  }

  #byPackageVuln: Map<string, StoredFinding[]> | null = null;

  /** The inserts and updates, `size` findings at a time. */
  *batches(size: number): Generator<{ inserts: NewFinding[]; updates: FindingUpdate[]; done: number }> {
    let inserts: NewFinding[] = [];
    let updates: FindingUpdate[] = [];
    let done = 0;
    // Exact matches first, then new versions (which may take over a stored finding), in key order.
    const keys = [...this.#desired.keys()].sort((a, b) => {
      const x = this.#stored.has(a) ? 0 : 1;
      const y = this.#stored.has(b) ? 0 : 1;
      return x - y || (a < b ? -1 : a > b ? 1 : 0);
    });
    for (const key of keys) {
      const d = this.#desired.get(key) as DesiredFinding;
      done += 1;
      const write = this.#compare(key, d);
      if (write?.insert) inserts.push(write.insert);
      if (write?.update) updates.push(write.update);
      if (done % size === 0) {
        yield { inserts, updates, done };
        inserts = [];
        updates = [];
      }
    }
    yield { inserts, updates, done };
  }

  /** Ids of stored findings that are not fixed and that no match claimed: to be marked fixed. */
  fixedIds(): string[] {
    const fixed: string[] = [];
    for (const [key, s] of this.#stored) {
      if (this.#desired.has(key) || this.#moved.has(key) || s.status === "fixed") continue;
      fixed.push(s.id);
      this.#count("fixed", s.id);
    }
    return fixed;
  }

  #compare(key: string, d: DesiredFinding): { insert?: NewFinding; update?: FindingUpdate } | null {
    const stored = this.#stored.get(key) ?? this.#movedFrom(key);
    const now = this.#nowIso;
    if (stored === undefined) {
      const id = newFindingId(this.#options.now.getTime());
      this.#count("opened", id);
      return {
        insert: {
          id,
          asset_id: d.assetId,
          ecosystem: d.ecosystem,
          package_name: d.packageName,
          arch: d.arch,
          vuln_id: d.facts.vulnId,
          ...columns(d, this.#options.dueAt(d.assetId, d.facts.class, now)),
        },
      };
    }
    let { status, statusReason: reason, statusBy: by, statusExpiresAt: expires, firstSeen } = stored;
    let kind: "opened" | "reopened" | "updated" = "updated";
    if (status === "fixed") {
      [status, reason, by, expires, firstSeen, kind] = ["open", null, null, null, now, "opened"];
    } else if (status === "accepted-risk" && expires !== null && expires <= now) {
      [status, reason, by, kind] = [
        "open",
        `risk acceptance expired at ${expires}`,
        this.#options.by,
        "reopened",
      ];
      expires = null;
    } else if (status === "not-affected" && expires !== null && expires <= now) {
      [status, reason, by, kind] = [
        "open",
        `not-affected statement lapsed at ${expires}: review it`,
        this.#options.by,
        "reopened",
      ];
      expires = null;
    }
    const due = this.#options.dueAt(d.assetId, d.facts.class, firstSeen);
    if (status === stored.status && fingerprint(d.installedVersion, d.facts, due) === stored.fingerprint) {
      this.counts.unchanged += 1;
      return null;
    }
    this.#count(kind, stored.id);
    return {
      update: {
        id: stored.id,
        ...columns(d, due),
        status,
        status_reason: reason,
        status_by: by,
        status_expires_at: expires,
        first_seen: firstSeen,
        updated_at: now,
      },
    };
  }

  #count(kind: keyof Reconciler["changedIds"], id: string): void {
    this.counts[kind] += 1;
    if (this.#listed < AUDITED_IDS) {
      this.changedIds[kind].push(id);
      this.#listed += 1;
    }
  }
}

function columns(d: DesiredFinding, due: string | null) {
  const f = d.facts;
  return {
    installed_version: d.installedVersion,
    advisory_ids: f.advisoryIds,
    aliases: f.aliases,
    fixed_version: f.fixedVersion,
    severity_score: f.severityScore,
    severity_vector: f.severityVector,
    epss: f.epss,
    kev: f.kev,
    risk_score: f.riskScore,
    class: f.class,
    due_at: due,
  };
}
