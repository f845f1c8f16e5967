import type { ColumnType, Generated } from "kysely";
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

/** Each distinct package version of the fleet, once (see migrations/0015-package-dictionary.ts). */
export interface PackagesTable {
  id: Generated<number>;
  ecosystem: string;
  name: string;
  version: string;
  /** "" when the package has no architecture. */
  arch: string;
  /** The name advisories key the package by: its Debian source package, else its own name. */
  source_name: string;
  source_version: string;
  /** "" when none. */
  purl: string;
}

/** One asset's package set: its package ids as a sorted JSON array, and the digest agents compare. */
export interface PackageSetsTable {
  /** The asset's number in asset_packages. */
  num: Generated<number>;
  asset_id: string;
  package_ids: string;
  digest: string;
  total: number;
  updated_at: string;
}

/** The inverted index of the sets: which assets (by set number) have a package. */
export interface AssetPackagesTable {
  package_id: number;
  set_num: number;
}

/**
 * Pairs of the sets not merged into asset_packages yet (migration 0021): `present` 1 adds the pair,
 * 0 removes it; a row overrides the index. Read through the `set_packages` view.
 */
export interface AssetPackageLogTable {
  package_id: number;
  set_num: number;
  present: number;
}

/** A version per group of match inputs (advisories, kev, epss, findings), a new random one on every write. */
/** One row (id 1): moves whenever a credential may have lost access (see migration 0022). */
export interface CredentialVersionTable {
  id: number;
  /** bigint: PostgreSQL returns it as text. */
  version: number | string;
}

export interface MatchInputsTable {
  name: string;
  /** bigint: PostgreSQL returns it as text. */
  version: number | string;
}

/** What the last full re-match matched a package set against (see src/advisories/findings/match-state.ts). */
export interface MatchStateTable {
  set_num: number;
  /** The input versions and the policy, as one key. */
  inputs: string;
  /** The set's digest then. */
  digest: string;
  /** The asset's risk inputs and SLAs then. */
  context: string;
  /** Findings the set yielded (unresolved or not). */
  findings: number;
  matched_at: string;
}

/** A view over packages, package_sets and asset_packages with the columns of the old table. */
export interface InstalledPackagesTable {
  asset_id: string;
  ecosystem: string;
  name: string;
  version: string;
  /** "" when the package has no architecture (part of the key, so never null). */
  arch: string;
  /** The name advisories key the package by: its Debian source package, else its own name. */
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

/** A person or a service account. Tokens belong to one; separation of duties compares them. */
export interface PrincipalsTable {
  id: string;
  /** Normalised (src/domain/names.ts): unique, lowercase, label value characters. */
  name: string;
  /** person | service */
  kind: string;
  created_at: string;
  created_by: string;
  /** A disabled principal's tokens no longer authenticate. */
  disabled_at: string | null;
}

export interface ApiTokensTable {
  id: string;
  /** Normalised as principal names are; unique among a principal's active tokens. */
  name: string;
  role: string;
  /** SHA-256 of the token; the token itself is never stored. */
  token_hash: string;
  /** "user" for people and scripts, "agent" for a host agent's credential. */
  kind: string;
  asset_id: string | null;
  /** The principal a user token belongs to; null for agent credentials, which act for their asset. */
  principal_id: string | null;
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

/** One enrollment: which asset an enrollment token enrolled, and when. */
export interface EnrollmentTokenUsesTable {
  id: string;
  token_id: string;
  asset_id: string;
  asset_name: string;
  /** 1 when the asset existed and an admin had allowed its re-enrollment. */
  reenrolled: number;
  enrolled_at: string;
}

/** An admin's single-use allowance to enroll an agent as an existing asset, until it expires. */
export interface AssetReenrollmentsTable {
  id: string;
  asset_id: string;
  created_at: string;
  created_by: string;
  expires_at: string;
  used_at: string | null;
  /** The enrollment token that used it. */
  used_by_token: string | null;
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
  /** The row's number in finding_rows (the view's key; not shown). */
  row_num: ColumnType<number, never, never>;
  /** The asset's package set number (finding_rows.set_num; not shown). */
  set_num: ColumnType<number, never, never>;
}

/** A vulnerability id's number in the findings tables (migration 0020). */
export interface FindingVulnsTable {
  num: Generated<number>;
  vuln_id: string;
}

/** What a match says of one package version and vulnerability, immutable; unique by its folded `core`. */
export interface FindingFactsTable {
  num: Generated<number>;
  package_id: number;
  vuln_num: number;
  core: string;
  advisory_ids: string;
  aliases: string;
  fixed_version: string | null;
  severity_score: number | null;
  severity_vector: string | null;
  epss: number | null;
  kev: number;
  risk_score: number;
  class: string;
}

/** One finding: integers and the per-asset fields; `findings` is the view readers use. */
export interface FindingRowsTable {
  num: Generated<number>;
  /** The text id of a finding made before migration 0020 or by one asset's re-match; null when derived from `num`. */
  text_id: string | null;
  set_num: number;
  /** The lowest dictionary id of the installed package's ecosystem, name, arch and version. */
  package_id: number;
  vuln_num: number;
  fact: number;
  status: string;
  status_reason: string | null;
  status_by: string | null;
  status_expires_at: string | null;
  first_seen: string;
  due_at: string | null;
  updated_at: string;
}

/** One notification to one webhook; see src/notify/. Pending until delivered_at or dead_at is set. */
export interface OutboxTable {
  id: string;
  /** sha256 of (event, subject id, webhook name, occurrence): sent as the Idempotency-Key header. */
  idempotency_key: string;
  event: string;
  subject_type: string;
  subject_id: string;
  target_name: string;
  target_url: string;
  /** json | slack */
  format: string;
  /** The request body as sent, JSON text. */
  payload: string;
  attempts: number;
  next_attempt_at: string;
  /** A worker's lease on the message while it posts it. */
  claimed_until: string | null;
  delivered_at: string | null;
  last_error: string | null;
  created_at: string;
  dead_at: string | null;
}

/** Work owed after a commit; see src/work/. Deleted once done, in the transaction of its effect. */
export interface WorkItemsTable {
  id: string;
  /** The work kind's name, as registered in the work registry. */
  kind: string;
  /** Unique per kind: commits that owe the same work coalesce on it. */
  key: string;
  /** JSON text the kind reads. */
  payload: string;
  created_at: string;
  /** Failed runs so far. */
  attempts: number;
  next_attempt_at: string;
  /** The runner that claimed the item, until lease_expires_at. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
}

/** One stored version of a policy; rows are never changed, a new content makes a new version. */
export interface PoliciesTable {
  id: string;
  name: string;
  version: number;
  /** policyContentHash of the content: equal policies (defaults included) have equal hashes. */
  content_hash: string;
  /** The YAML as applied. */
  content: string;
  author: string;
  created_at: string;
}

/** The stored policy chosen for a purpose (`findings`); its latest version governs. */
export interface PolicySelectionsTable {
  purpose: string;
  name: string;
  chosen_by: string;
  chosen_at: string;
}

/** A proposed policy version waiting for (or decided by) an approver; see src/policy/proposals.ts. */
export interface PolicyProposalsTable {
  id: string;
  name: string;
  content: string;
  content_hash: string;
  /** The latest version of the name when it was proposed (null: none); approval needs it still latest. */
  base_version: number | null;
  /** Actor label and principal of the proposer: separation of duties compares the principal. */
  proposer: string;
  proposer_principal: string;
  reason: string;
  /** pending | approved | rejected */
  state: string;
  decided_by: string | null;
  decider_principal: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  /** The version the approval stored. */
  version: number | null;
  created_at: string;
}

/** A change request; see migrations/0003-changes.ts for the columns the rollout engine reads. */
export interface ChangeRequestsTable {
  id: string;
  title: string;
  package_name: string;
  package_version: string;
  artifact_name: string | null;
  artifact_sha256: string | null;
  source: string | null;
  /** JSON array of vulnerability ids the change closes. */
  advisories: string;
  ticket: string | null;
  selector: string;
  /** emergency | high | routine */
  class: string;
  emergency: number;
  policy_name: string;
  policy_version: number;
  policy_hash: string;
  justification: string;
  risk_notes: string | null;
  rollback_notes: string | null;
  /** Actor label and token name, as shown. */
  requester: string;
  requester_name: string;
  /** The requester's principal: separation of duties compares this. */
  requester_principal: string;
  state: string;
  state_reason: string | null;
  /** JSON: the approval rule frozen at submit. */
  approval_rule: string | null;
  /** JSON: the frozen Plan once approved. */
  plan: string | null;
  scheduled_start: string | null;
  /** Name of the approver who authorised an emergency start inside a freeze or outside windows. */
  override_approver: string | null;
  /** none | pending | done */
  review_state: string;
  review_due_at: string | null;
  reviewed_by: string | null;
  reviewed_at: string | null;
  review_reason: string | null;
  /** The scheduled start the starting-soon notification was enqueued for. */
  starting_soon_for: string | null;
  /** The rollout executing this change, once it started. */
  rollout_id: string | null;
  /**
   * JSON array: the binary packages the change patches besides package_name (one source package's).
   * Defaults to "[]" in the database, so writers that predate it need not name it.
   */
  also_packages: ColumnType<string, string | undefined, string>;
  /** JSON array of {package, name, sha256}: the files of also_packages it installs ("[]" by default). */
  also_artifacts: ColumnType<string, string | undefined, string>;
  created_at: string;
  updated_at: string;
}

export interface ApprovalsTable {
  id: string;
  change_id: string;
  /** approve | reject */
  decision: string;
  approver: string;
  approver_name: string;
  /** The approver's principal: one principal's approvals count once. */
  approver_principal: string;
  approver_role: string;
  reason: string | null;
  created_at: string;
  expires_at: string | null;
}

/** One row per applied migration: whether an older autopatch must refuse the store once it is applied. */
export interface SchemaMetaTable {
  migration: string;
  /** 1: code that predates the migration cannot work on the store; 0: additive. */
  breaking: number;
  recorded_at: string;
}

export interface Database {
  assets: AssetsTable;
  installed_packages: InstalledPackagesTable;
  packages: PackagesTable;
  package_sets: PackageSetsTable;
  asset_packages: AssetPackagesTable;
  asset_package_log: AssetPackageLogTable;
  /** A view: asset_packages with asset_package_log applied, what every reader of the sets joins. */
  set_packages: AssetPackagesTable;
  match_inputs: MatchInputsTable;
  match_state: MatchStateTable;
  inventory_reports: InventoryReportsTable;
  principals: PrincipalsTable;
  api_tokens: ApiTokensTable;
  credential_version: CredentialVersionTable;
  enrollment_tokens: EnrollmentTokensTable;
  enrollment_token_uses: EnrollmentTokenUsesTable;
  asset_reenrollments: AssetReenrollmentsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  advisories: AdvisoriesTable;
  advisory_packages: AdvisoryPackagesTable;
  advisory_aliases: AdvisoryAliasesTable;
  kev_entries: KevEntriesTable;
  epss_scores: EpssScoresTable;
  findings: FindingsTable;
  finding_rows: FindingRowsTable;
  finding_facts: FindingFactsTable;
  finding_vulns: FindingVulnsTable;
  policies: PoliciesTable;
  policy_proposals: PolicyProposalsTable;
  policy_selections: PolicySelectionsTable;
  change_requests: ChangeRequestsTable;
  approvals: ApprovalsTable;
  outbox: OutboxTable;
  schema_meta: SchemaMetaTable;
  rollouts: RolloutsTable;
  rollout_phases: RolloutPhasesTable;
  rollout_assets: RolloutAssetsTable;
  operations: OperationsTable;
  artifacts: ArtifactsTable;
  incidents: IncidentsTable;
  engine_switches: EngineSwitchesTable;
  work_items: WorkItemsTable;
  scheduler_leases: SchedulerLeasesTable;
}

/** One execution of a change's frozen plan (see src/rollout/model.ts for the states). */
export interface RolloutsTable {
  id: string;
  change_id: string;
  state: string;
  state_reason: string | null;
  /** JSON: the frozen Plan (version 2) the rollout executes. */
  plan: string;
  /** Index of the phase in progress (phases.length once every phase passed). */
  current_phase: number;
  /** The principal who paused it; null when not paused or paused by the engine. */
  paused_by: string | null;
  /** When a gate failed, for the time to rollback. */
  gate_failed_at: string | null;
  /** JSON: the GateResult that failed. */
  failed_gate: string | null;
  /** phase | change: what a rollback returns (the canary's assets, or every touched asset). */
  rollback_scope: string | null;
  /** From the failed gate to the last reverted asset verified. */
  time_to_rollback_ms: number | null;
  /** The replica driving the rollout, and until when (compare-and-set). */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** When the current pause began, as the engine noticed it (null while not paused). */
  paused_since: string | null;
  /** Bumped by every write: optimistic concurrency for operator controls. */
  revision: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface RolloutPhasesTable {
  rollout_id: string;
  idx: number;
  name: string;
  /** canary | wave | final */
  kind: string;
  ring: string | null;
  state: string;
  started_at: string | null;
  observe_until: string | null;
  finished_at: string | null;
  /** The principal who ended the observation early with `rollout promote`. */
  promoted_by: string | null;
  /** JSON array of GateResult: the latest result of each of the phase's gates. */
  gate_results: string;
  /** Time spent paused while this phase was in progress: not counted against its progress deadline. */
  paused_ms: number | null;
}

export interface RolloutAssetsTable {
  rollout_id: string;
  asset_id: string;
  asset_name: string;
  phase_idx: number;
  /** Order within the rollout (plan order); rollback goes in reverse. */
  seq: number;
  group_name: string;
  region: string;
  state: string;
  state_reason: string | null;
  from_version: string | null;
  to_version: string;
  /** Bumped by `rollout retry`: part of the operations' idempotency keys. */
  attempt: number;
  /** JSON: the Snapshot the patch operation took (pre-patch versions and where their .debs are). */
  snapshot: string | null;
  /** When its install began. */
  started_at: string | null;
  /** Set when it went out of service (install began), cleared when verified or reverted. */
  unavailable_since: string | null;
  /** When it was verified or reverted. */
  finished_at: string | null;
  updated_at: string;
}

/** One action on one asset, handed to an executor; its effect happens at most once per key. */
export interface OperationsTable {
  id: string;
  /** `<change>/<asset>/<action>/<attempt>`: unique, so a retried dispatch never makes a second one. */
  idempotency_key: string;
  rollout_id: string;
  asset_id: string;
  /** The executor kind (agent, …). */
  executor: string;
  /** patch | revert | verify */
  action: string;
  attempt: number;
  /** queued | leased | succeeded | failed | lost | cancelled */
  state: string;
  /** The step the host reported last: snapshotting | applying | verifying | reverting. */
  step: string | null;
  /** JSON: OperationPayload. */
  payload: string;
  /** JSON: OperationResult. */
  result: string | null;
  error: string | null;
  lease_expires_at: string | null;
  created_at: string;
  leased_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/** A package file in the content-addressed store, signed with the server's key. */
export interface ArtifactsTable {
  sha256: string;
  file_name: string;
  package_name: string;
  package_version: string;
  arch: string;
  size: number;
  content: Buffer;
  /** base64 ed25519 signature over the sha256 hex digest (see src/artifacts). */
  signature: string;
  key_id: string;
  created_by: string;
  created_at: string;
}

export interface IncidentsTable {
  id: string;
  change_id: string;
  rollout_id: string;
  title: string;
  /** JSON: the failed gate and its reason. */
  what_failed: string;
  /** JSON array of the affected assets with their states and versions. */
  assets: string;
  /** JSON array of { at, event, detail } from the rollout's audit events. */
  timeline: string;
  /** pending | closed */
  postmortem_state: string;
  summary: string | null;
  closed_by: string | null;
  closed_at: string | null;
  opened_at: string;
}

/** Engine-wide switches, e.g. `stop-all` (the global emergency stop). */
export interface EngineSwitchesTable {
  name: string;
  value: string;
  reason: string | null;
  set_by: string;
  set_at: string;
}

/** A one-replica background loop's lease (see src/scheduler/lease.ts). */
export interface SchedulerLeasesTable {
  /** The loop's name. */
  name: string;
  /** The replica holding it (its scheduler's replica id). */
  owner: string;
  /** Until when it holds; any replica may take it after that. */
  expires_at: string;
  /** When the current owner took it (kept across its renewals). */
  acquired_at: string;
  updated_at: string;
}
