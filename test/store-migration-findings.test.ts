import type { Selectable } from "kysely";
import { sql } from "kysely";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { rowToFinding } from "../src/advisories/findings/finding.js";
import { findingKeys } from "../src/advisories/findings/finding-rows.js";
import { getFinding, listFindings } from "../src/advisories/findings/query.js";
import { reopen } from "../src/advisories/findings/status.js";
import type { Actor } from "../src/domain/roles.js";
import { startServer } from "../src/server/start.js";
import type { FindingsTable } from "../src/store/schema.js";
import { migrateToLatest } from "../src/store/store.js";
import { runCli } from "./helpers/cli.js";
import { insertOldHosts, storesBefore, WEB_HOSTS } from "./helpers/migrations.js";
import { contextFor, DIALECTS } from "./helpers/stores.js";

const AT = "2026-11-01T00:00:00.000Z";
const NOW = new Date("2026-11-20T10:00:00.000Z");
const OLD_COLUMNS = [
  "id",
  "asset_id",
  "ecosystem",
  "package_name",
  "arch",
  "installed_version",
  "vuln_id",
  "advisory_ids",
  "aliases",
  "fixed_version",
  "severity_score",
  "severity_vector",
  "epss",
  "kev",
  "risk_score",
  "class",
  "status",
  "status_reason",
  "status_by",
  "status_expires_at",
  "first_seen",
  "due_at",
  "updated_at",
] as const;

type OldRow = Omit<Selectable<FindingsTable>, "row_num" | "set_num">;

const base = {
  ecosystem: "Debian:12",
  arch: "amd64",
  advisory_ids: JSON.stringify(["DSA-5800-1"]),
  aliases: JSON.stringify(["CVE-2024-0001", "DSA-5800-1"]),
  fixed_version: "3.0.13-1~deb12u1",
  severity_score: 7.5,
  severity_vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
  epss: 0.12345,
  kev: 0,
  risk_score: 61.3,
  class: "high",
  status_reason: null,
  status_by: null,
  status_expires_at: null,
  first_seen: AT,
  due_at: "2027-06-01T00:00:00.000Z",
  updated_at: AT,
};

const OLD_FINDINGS: OldRow[] = [
  // Open, with a UUIDv7 id as the re-match made them.
  {
    ...base,
    id: "0193a5f2-7c00-7000-8000-000000000001",
    asset_id: "a1",
    package_name: "openssl",
    installed_version: "3.0.11-1~deb12u2",
    vuln_id: "CVE-2024-0001",
    status: "open",
  },
  // An accepted risk with its expiry, on another binary of the same source.
  {
    ...base,
    id: "0193a5f2-7c00-7000-8000-000000000002",
    asset_id: "a1",
    package_name: "libssl3",
    installed_version: "3.0.11-1~deb12u2",
    vuln_id: "CVE-2024-0001",
    status: "accepted-risk",
    status_reason: "behind the proxy",
    status_by: "alice",
    status_expires_at: "2027-01-01T00:00:00.000Z",
    updated_at: "2026-11-05T00:00:00.000Z",
  },
  // Fixed: its version is no longer installed (nor in the package dictionary).
  {
    ...base,
    id: "0193a5f2-7c00-7000-8000-000000000003",
    asset_id: "a1",
    package_name: "openssl",
    installed_version: "3.0.9-1",
    vuln_id: "CVE-2023-0002",
    aliases: JSON.stringify(["CVE-2023-0002"]),
    advisory_ids: JSON.stringify(["DSA-5500-1"]),
    fixed_version: "3.0.11-1~deb12u2",
    severity_score: null,
    severity_vector: null,
    epss: null,
    kev: 1,
    risk_score: 90,
    class: "emergency",
    status: "fixed",
    status_reason: "no longer affected",
    status_by: "system",
    due_at: null,
    updated_at: "2026-11-10T00:00:00.000Z",
  },
  // Not affected, with a review date, on an asset that has no package set.
  {
    ...base,
    id: "f-legacy-text-id",
    asset_id: "a2",
    package_name: "curl",
    installed_version: "7.88.1-10+deb12u5",
    vuln_id: "CVE-2024-0003",
    aliases: JSON.stringify(["CVE-2024-0003"]),
    fixed_version: null,
    epss: 0.5,
    class: "routine",
    risk_score: 12.5,
    status: "not-affected",
    status_reason: "the binary is not shipped",
    status_by: "bob",
    status_expires_at: "2027-02-01T00:00:00.000Z",
  },
];

const OPERATOR: Actor = {
  kind: "user",
  id: "t-operator",
  name: "olga",
  principal: "olga",
  role: "operator",
  assetId: null,
};

describe.each(DIALECTS)("migrating findings to integer rows and facts (%s)", (dialect) => {
  // A store as the release before findings moved to integers left it.
  const stores = storesBefore(dialect, "0020");

  it("reads every finding as before through the view, the service, HTTP and the CLI", async () => {
    const store = await stores.open();
    const db = store.db;
    await insertOldHosts(db, WEB_HOSTS, AT);
    // Two dictionary rows of openssl that differ only in purl, and libssl3; a1's set holds them.
    const ids: number[] = [];
    for (const [name, purl] of [
      ["openssl", ""],
      ["openssl", "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64"],
      ["libssl3", ""],
    ] as const) {
      const r = await sql<{ id: number }>`
        insert into packages (ecosystem, name, version, arch, source_name, source_version, purl)
        values ('Debian:12', ${name}, '3.0.11-1~deb12u2', 'amd64', 'openssl', '3.0.11-1~deb12u2', ${purl}) returning id`.execute(
        db,
      );
      ids.push(Number(r.rows[0]?.id));
    }
    const set = await sql<{ num: number }>`
      insert into package_sets (asset_id, package_ids, digest, total, updated_at)
      values ('a1', ${JSON.stringify(ids)}, 'd1', 3, ${AT}) returning num`.execute(db);
    for (const id of ids)
      await sql`insert into asset_packages (package_id, set_num) values (${id}, ${Number(set.rows[0]?.num)})`.execute(
        db,
      );
    for (const f of OLD_FINDINGS) {
      await sql`insert into findings (${sql.join(OLD_COLUMNS.map((c) => sql.id(c)))})
        values (${sql.join(OLD_COLUMNS.map((c) => f[c]))})`.execute(db);
    }
    const before = (await sql<OldRow>`select * from findings order by id`.execute(db)).rows;
    expect(before).toHaveLength(OLD_FINDINGS.length);

    await migrateToLatest(store);

    // The view: the same columns and values, row for row.
    const after = await db.selectFrom("findings").select(OLD_COLUMNS).orderBy("id").execute();
    expect(after).toEqual(before);
    // Integers behind it: one row per finding, one fact per distinct (package, vulnerability, content).
    expect((await db.selectFrom("finding_rows").select("num").execute()).length).toBe(4);
    expect((await db.selectFrom("finding_vulns").select("num").execute()).length).toBe(3);
    expect((await db.selectFrom("finding_facts").select("num").execute()).length).toBe(4);
    // The row of openssl points at the lowest of its two dictionary rows.
    const openssl = await db
      .selectFrom("finding_rows")
      .select("package_id")
      .where("text_id", "=", OLD_FINDINGS[0]?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(Number(openssl.package_id)).toBe(ids[0]);
    // The fold the migration stored is the re-match's: the same columns find the same fact.
    const [key] = await findingKeys(db, [OLD_FINDINGS[0] as OldRow]);
    const migrated = await db
      .selectFrom("finding_rows")
      .select("fact")
      .where("text_id", "=", OLD_FINDINGS[0]?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(key?.fact).toBe(Number(migrated.fact));

    // The service (what the API and the CLI call).
    const ctx = contextFor(store, () => NOW);
    const names: Record<string, string> = { a1: "web-1", a2: "web-2" };
    const expected = before.map((r) =>
      rowToFinding({ ...r, row_num: 0, set_num: 0, asset_name: names[r.asset_id] ?? "" }, NOW),
    );
    for (const e of expected) expect(await getFinding(ctx, e.id)).toEqual(e);
    const page = await listFindings(ctx, { status: "all", limit: 100 });
    expect(page.findings.map((f) => f.id).sort()).toEqual(expected.map((e) => e.id).sort());
    expect(page.findings.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(expected);

    // HTTP and the CLI, on a server over the migrated store.
    const admin = "apt_migration-findings-admin-0123456789";
    const server = await startServer({
      databaseUrl: store.url,
      listen: "127.0.0.1:0",
      adminToken: admin,
      logger: pino({ level: "silent" }),
    });
    try {
      const env = { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: admin };
      for (const e of expected) {
        const res = await fetch(`${server.url}/api/v1/findings/${encodeURIComponent(e.id)}`, {
          headers: { authorization: `Bearer ${admin}` },
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual(JSON.parse(JSON.stringify(e)));
      }
      const listed = await runCli(["findings", "list", "--status", "all", "--json"], env);
      expect(listed.code, listed.stderr).toBe(0);
      const { findings: items } = JSON.parse(listed.stdout) as { findings: Array<{ id: string }> };
      expect(items.map((f) => f.id).sort()).toEqual(expected.map((e) => e.id).sort());
    } finally {
      await server.close();
    }

    // A migrated id still takes a decision: the accepted risk reopens, audited under the same id.
    const accepted = OLD_FINDINGS[1]?.id ?? "";
    const reopened = await reopen(ctx, OPERATOR, accepted, "the proxy is gone");
    expect(reopened).toMatchObject({ id: accepted, status: "open", firstSeen: AT });
    const audit = await db
      .selectFrom("audit_events")
      .select(["target_id"])
      .where("target_type", "=", "finding")
      .execute();
    expect(audit.map((a) => a.target_id)).toContain(accepted);
  });
});
