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

export interface Database {
  assets: AssetsTable;
  installed_packages: InstalledPackagesTable;
  inventory_reports: InventoryReportsTable;
  api_tokens: ApiTokensTable;
  enrollment_tokens: EnrollmentTokensTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
}
