/**
 * Reads stored findings for a re-match, folded by the database into three strings each (key,
 * fingerprint, status fields): a fleet holds millions of findings, and turning each of twenty-odd
 * columns into a JavaScript value costs more than the database's whole scan.
 */
import { type Kysely, type Selectable, sql } from "kysely";
import type { ChangeClass } from "../../policy/schema.js";
import { inChunks } from "../../store/chunks.js";
import type { Database, FindingsTable } from "../../store/schema.js";
import { findingFacts, findingKey, fingerprint, SEP, type StoredFinding } from "./reconcile.js";

const PAGE = 20_000;
const IDS_PER_QUERY = 500;

const text = (column: string) => sql`coalesce(${sql.ref(column)}, '')`;
/** The same integers reconcile.ts compares (CVSS and risk in tenths, EPSS in millionths), as text. */
const scaled = (column: string, factor: number) =>
  sql`coalesce(cast(cast(round(${sql.ref(column)} * ${sql.lit(factor)}) as bigint) as text), '')`;
const join = (parts: ReturnType<typeof sql>[]) => sql.join(parts, sql` || ${SEP} || `);

const KEY = join([
  sql.ref("asset_id"),
  sql.ref("ecosystem"),
  sql.ref("package_name"),
  sql.ref("arch"),
  sql.ref("installed_version"),
  sql.ref("vuln_id"),
]);

// The order of reconcile.ts's fingerprint(): installed version, the facts' core, due date.
const FINGERPRINT = join([
  sql.ref("installed_version"),
  sql.ref("advisory_ids"),
  sql.ref("aliases"),
  text("fixed_version"),
  scaled("severity_score", 10),
  text("severity_vector"),
  scaled("epss", 1_000_000),
  sql`cast(${sql.ref("kev")} as text)`,
  scaled("risk_score", 10),
  sql.ref("class"),
  text("due_at"),
]);

// The reason is free text and goes last, so a separator inside it cannot shift the other fields.
const META = join([
  sql.ref("id"),
  sql.ref("status"),
  text("status_expires_at"),
  sql.ref("first_seen"),
  text("status_by"),
  text("status_reason"),
]);

// Key, fingerprint and status fields come back as one string (one value per row is what costs least
// to read out), split at the first two record separators; only the free-text reason, last, may hold one.
const RS = "\u001e";

function selectStored(db: Kysely<Database>) {
  return db
    .selectFrom("findings")
    .select(sql<string>`${KEY} || ${RS} || ${FINGERPRINT} || ${RS} || ${META}`.as("s"));
}

function unfold(row: { s: string }): StoredFinding {
  const a = row.s.indexOf(RS);
  const b = row.s.indexOf(RS, a + 1);
  const parts = row.s.slice(b + 1).split(SEP);
  const [id = "", status = "", expires = "", firstSeen = "", by = ""] = parts;
  const reason = parts.slice(5).join(SEP);
  return {
    id,
    key: row.s.slice(0, a),
    fingerprint: row.s.slice(a + 1, b),
    status,
    statusExpiresAt: expires === "" ? null : expires,
    firstSeen,
    statusBy: by === "" ? null : by,
    statusReason: reason === "" ? null : reason,
  };
}

/**
 * Stored findings of these assets (of their packages with these names, when given), or all of them
 * (read in pages of the primary key).
 */
export async function readStoredFindings(
  db: Kysely<Database>,
  assetIds?: readonly string[],
  packageNames?: readonly string[],
): Promise<StoredFinding[]> {
  const out: StoredFinding[] = [];
  if (assetIds !== undefined) {
    const unique = [...new Set(assetIds)];
    // Both lists come from input (a report names up to 200,000 packages): each is cut into chunks
    // so no statement nears either dialect's bound-parameter limit.
    const names =
      packageNames === undefined ? [undefined] : inChunks([...new Set(packageNames)], IDS_PER_QUERY);
    for (const ids of inChunks(unique, IDS_PER_QUERY)) {
      for (const chunk of names) {
        const rows = await selectStored(db)
          .where("asset_id", "in", ids)
          .$if(chunk !== undefined, (q) => q.where("package_name", "in", chunk ?? []))
          .execute();
        for (const row of rows) out.push(unfold(row));
      }
    }
    return out;
  }
  let after = "";
  for (;;) {
    const rows = await selectStored(db).where("id", ">", after).orderBy("id").limit(PAGE).execute();
    for (const row of rows) out.push(unfold(row));
    const last = out.at(-1);
    if (last === undefined || rows.length < PAGE) return out;
    after = last.id;
  }
}

/** The identity parts of a stored finding's key: asset id, ecosystem, package, arch, installed version, vulnerability. */
export function keyParts(key: string): [string, string, string, string, string, string] {
  const [assetId = "", ecosystem = "", pkg = "", arch = "", version = "", vulnId = ""] = key.split(SEP);
  return [assetId, ecosystem, pkg, arch, version, vulnId];
}

/** The same folding done in JavaScript, for a finding row already read in full. */
export function storedFindingFromRow(row: Selectable<FindingsTable>): StoredFinding {
  const facts = findingFacts({
    vulnId: row.vuln_id,
    advisoryIds: row.advisory_ids,
    aliases: row.aliases,
    fixedVersion: row.fixed_version,
    severityScore: row.severity_score === null ? null : Number(row.severity_score),
    severityVector: row.severity_vector,
    epss: row.epss === null ? null : Number(row.epss),
    kev: Number(row.kev) === 1 ? 1 : 0,
    riskScore: Number(row.risk_score),
    class: row.class as ChangeClass,
  });
  return {
    id: row.id,
    key: findingKey(
      row.asset_id,
      row.ecosystem,
      row.package_name,
      row.arch,
      row.installed_version,
      row.vuln_id,
    ),
    fingerprint: fingerprint(row.installed_version, facts, row.due_at),
    status: row.status,
    statusExpiresAt: row.status_expires_at,
    firstSeen: row.first_seen,
    statusBy: row.status_by,
    statusReason: row.status_reason,
  };
}
