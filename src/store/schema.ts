/**
 * The tables as Kysely sees them. One schema for SQLite and PostgreSQL: timestamps are ISO 8601 UTC
 * text (they sort as text), booleans are 0/1 integers and structured values are JSON text, so both
 * dialects read and write the same values.
 */
export interface AssetsTable {
  id: string;
  name: string;
  kind: string;
  environment: string;
  group_name: string;
  region: string;
  owner: string;
  criticality: number;
  labels: string;
  agent_status: string;
  created_at: string;
  updated_at: string;
  last_seen_at: string | null;
}

export interface InstalledPackagesTable {
  asset_id: string;
  ecosystem: string;
  name: string;
  version: string;
  /** "" when the package has no architecture (part of the key, so never null). */
  arch: string;
  source_name: string | null;
  source_version: string | null;
  purl: string | null;
}

export interface InventoryReportsTable {
  id: string;
  asset_id: string;
  received_at: string;
  source: string;
  total: number;
  added: number;
  removed: number;
  changed: number;
  /** JSON: {added: […], removed: […], changed: […]}, capped in length. */
  changes: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  /** SHA-256 of the token; the token itself is never stored. */
  token_hash: string;
  /** "user" for people and scripts, "agent" for a host agent's credential. */
  kind: string;
  asset_id: string | null;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface EnrollmentTokensTable {
  id: string;
  token_hash: string;
  reusable: number;
  use_count: number;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface AuditEventsTable {
  /** Position in the chain, 1-based, assigned from audit_head inside the writing transaction. */
  seq: number;
  id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  reason: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

/** One row (id = 1): the chain's tip. Updating it serialises appenders on every dialect. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface AdvisoriesTable {
  id: string;
  modified: string;
  published: string | null;
  withdrawn: string | null;
  summary: string;
  /** JSON array of alias ids. */
  aliases: string;
  severity_score: number | null;
  severity_vector: string | null;
  severity_version: string | null;
  /** GIT ranges are counted and reported, never evaluated. */
  git_ranges: number;
  /** The whole OSV record as JSON. */
  record: string;
  /** What it was imported from: file, directory or archive name. */
  source: string;
  imported_at: string;
}

export interface AdvisoryPackagesTable {
  advisory_id: string;
  /** Position in the record's affected[] list. */
  idx: number;
  /** Canonical OSV base name ("Debian", "npm", "AlmaLinux"). */
  ecosystem: string;
  /** The release suffix ("12" of "Debian:12"), "" when the advisory names none. */
  ecosystem_release: string;
  name: string;
  /** The affected[] entry as JSON. */
  affected: string;
}

export interface AdvisoryAliasesTable {
  alias: string;
  advisory_id: string;
}

export interface KevEntriesTable {
  cve: string;
  vendor: string;
  product: string;
  name: string;
  date_added: string;
  due_date: string | null;
  ransomware: number;
  catalog_version: string;
}

export interface EpssScoresTable {
  cve: string;
  epss: number;
  percentile: number;
  score_date: string | null;
}

export interface FindingsTable {
  id: string;
  asset_id: string;
  ecosystem: string;
  package_name: string;
  arch: string;
  installed_version: string;
  /** The vulnerability's display id: its CVE when it has one, else the advisory id. */
  vuln_id: string;
  /** JSON arrays. */
  advisory_ids: string;
  aliases: string;
  fixed_version: string | null;
  severity_score: number | null;
  severity_vector: string | null;
  epss: number | null;
  kev: number;
  risk_score: number;
  /** emergency | high | routine */
  class: string;
  /** open | fixed | accepted-risk | not-affected */
  status: string;
  status_reason: string | null;
  status_by: string | null;
  status_expires_at: string | null;
  first_seen: string;
  due_at: string | null;
  updated_at: string;
}

export interface Database {
  assets: AssetsTable;
  installed_packages: InstalledPackagesTable;
  inventory_reports: InventoryReportsTable;
  api_tokens: ApiTokensTable;
  enrollment_tokens: EnrollmentTokensTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  advisories: AdvisoriesTable;
  advisory_packages: AdvisoryPackagesTable;
  advisory_aliases: AdvisoryAliasesTable;
  kev_entries: KevEntriesTable;
  epss_scores: EpssScoresTable;
  findings: FindingsTable;
}
