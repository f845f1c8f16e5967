/**
 * The finding lifecycle of a re-match, as pure logic: the findings the matcher says should exist are
 * compared with the stored ones of the same scope, and what to insert, update and mark fixed follows.
 *
 *   new match                          → insert `open`, first seen now
 *   still affected                     → update what moved (installed and fixed version, severity,
 *                                        risk, class, due date); first seen and status are kept
 *   accepted-risk past its expiry      → `open` again
 *   `fixed` but affected again         → `open`, first seen now (a new exposure)
 *   stored, not matched any more       → `fixed` (kept for history)
 */
import type { FindingsTable } from "../../store/schema.js";
import type { ChangeClass } from "../../policy/schema.js";
import { newFindingId } from "./finding-id.js";

/** A finding as the matcher and the prioritiser computed it. */
export interface DesiredFinding {
  assetId: string;
  ecosystem: string;
  packageName: string;
  arch: string;
  installedVersion: string;
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
}

/** What the comparison needs of a stored finding; the compared columns are folded into one string. */
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

/** The columns of a stored finding that StoredFinding is built from. */
export const STORED_FINDING_COLUMNS = [
  "id",
  "asset_id",
  "ecosystem",
  "package_name",
  "arch",
  "vuln_id",
  "status",
  "status_reason",
  "status_by",
  "status_expires_at",
  "first_seen",
  "installed_version",
  "advisory_ids",
  "aliases",
  "fixed_version",
  "severity_score",
  "severity_vector",
  "epss",
  "kev",
  "risk_score",
  "class",
  "due_at",
] as const satisfies ReadonlyArray<keyof FindingsTable>;

export type StoredFindingRow = Pick<FindingsTable, (typeof STORED_FINDING_COLUMNS)[number]>;

/** Every column but the identity ones: what an update rewrites. */
export type FindingUpdate = Omit<FindingsTable, "asset_id" | "ecosystem" | "package_name" | "arch" | "vuln_id">;

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

export function findingKey(f: {
  assetId: string;
  ecosystem: string;
  packageName: string;
  arch: string;
  vulnId: string;
}): string {
  return `${f.assetId}\u0000${f.ecosystem}\u0000${f.packageName}\u0000${f.arch}\u0000${f.vulnId}`;
}

// PostgreSQL stores `real` columns in single precision: six significant digits compare equal both ways.
const numText = (n: number | string | null): string => (n === null ? "" : Number(n).toPrecision(6));

function fingerprintOf(v: {
  installedVersion: string;
  advisoryIds: string;
  aliases: string;
  fixedVersion: string | null;
  severityScore: number | string | null;
  severityVector: string | null;
  epss: number | string | null;
  kev: number | string;
  riskScore: number | string;
  class: string;
  dueAt: string | null;
}): string {
  return [
    v.installedVersion,
    v.advisoryIds,
    v.aliases,
    v.fixedVersion ?? "",
    numText(v.severityScore),
    v.severityVector ?? "",
    numText(v.epss),
    String(Number(v.kev)),
    numText(v.riskScore),
    v.class,
    v.dueAt ?? "",
  ].join("\u0001");
}

export function storedFinding(row: StoredFindingRow): StoredFinding {
  return {
    id: row.id,
    key: findingKey({
      assetId: row.asset_id,
      ecosystem: row.ecosystem,
      packageName: row.package_name,
      arch: row.arch,
      vulnId: row.vuln_id,
    }),
    status: row.status,
    statusReason: row.status_reason,
    statusBy: row.status_by,
    statusExpiresAt: row.status_expires_at,
    firstSeen: row.first_seen,
    fingerprint: fingerprintOf({
      installedVersion: row.installed_version,
      advisoryIds: row.advisory_ids,
      aliases: row.aliases,
      fixedVersion: row.fixed_version,
      severityScore: row.severity_score,
      severityVector: row.severity_vector,
      epss: row.epss,
      kev: row.kev,
      riskScore: row.risk_score,
      class: row.class,
      dueAt: row.due_at,
    }),
  };
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

  /**
   * One matched finding. Two installed versions of one package (an SBOM may list both) make one
   * finding: the version that sorts first as text, whatever order they come in.
   */
  offer(d: DesiredFinding): void {
    const key = findingKey(d);
    const seen = this.#desired.get(key);
    if (seen === undefined || d.installedVersion < seen.installedVersion) this.#desired.set(key, d);
  }

  /** The inserts and updates, `size` findings at a time. */
  *batches(size: number): Generator<{ inserts: FindingsTable[]; updates: FindingUpdate[]; done: number }> {
    let inserts: FindingsTable[] = [];
    let updates: FindingUpdate[] = [];
    let done = 0;
    for (const [key, d] of this.#desired) {
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
      if (this.#desired.has(key) || s.status === "fixed") continue;
      fixed.push(s.id);
      this.#count("fixed", s.id);
    }
    return fixed;
  }

  #compare(key: string, d: DesiredFinding): { insert?: FindingsTable; update?: FindingUpdate } | null {
    const stored = this.#stored.get(key);
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
          vuln_id: d.vulnId,
          ...columns(d, this.#options.dueAt(d.assetId, d.class, now)),
          status: "open",
          status_reason: null,
          status_by: null,
          status_expires_at: null,
          first_seen: now,
          updated_at: now,
        },
      };
    }
    let { status, statusReason: reason, statusBy: by, statusExpiresAt: expires, firstSeen } = stored;
    let kind: "opened" | "reopened" | "updated" = "updated";
    if (status === "fixed") {
      [status, reason, by, expires, firstSeen, kind] = ["open", null, null, null, now, "opened"];
    } else if (status === "accepted-risk" && expires !== null && expires <= now) {
      [status, reason, by, kind] = ["open", `risk acceptance expired at ${expires}`, this.#options.by, "reopened"];
      expires = null;
    }
    const due = this.#options.dueAt(d.assetId, d.class, firstSeen);
    if (status === stored.status && fingerprintOf({ ...d, dueAt: due }) === stored.fingerprint) {
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
  return {
    installed_version: d.installedVersion,
    advisory_ids: d.advisoryIds,
    aliases: d.aliases,
    fixed_version: d.fixedVersion,
    severity_score: d.severityScore,
    severity_vector: d.severityVector,
    epss: d.epss,
    kev: d.kev,
    risk_score: d.riskScore,
    class: d.class,
    due_at: due,
  };
}
