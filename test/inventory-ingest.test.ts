import { describe, expect, it } from "vitest";
import { importParsedRecords } from "../src/advisories/ingest/import-batch.js";
import { parseOsvRecord } from "../src/advisories/osv/schema.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { recordAgentInventory } from "../src/inventory/agents.js";
import { CHANGES_AUDITED } from "../src/inventory/report.js";
import { agentOfNewHost } from "./helpers/actors.js";
import { debPackage as deb } from "./helpers/assets.js";
import { DIALECTS, suiteStore } from "./helpers/stores.js";

/**
 * What an inventory report records, at the size agents send: the report row keeps the first changes,
 * its audit event the counts and the first few (the chain still verifies), and the matching hook still
 * opens and fixes findings when it has advisories or unresolved findings to work with.
 */
const many = (n: number, version: string) =>
  Array.from({ length: n }, (_, i) => deb(`pkg-${String(i).padStart(3, "0")}`, version));

describe.each(DIALECTS)("inventory reports at fleet size (%s)", (dialect) => {
  const t = suiteStore(dialect);

  const lastEvent = async (assetId: string) => {
    const row = await t.store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "inventory.reported")
      .where("target_id", "=", assetId)
      .orderBy("seq", "desc")
      .executeTakeFirstOrThrow();
    return JSON.parse(row.data) as {
      report: string;
      total: number;
      added: number;
      removed: number;
      changed: number;
      changes: Array<{ name: string; from: string | null; to: string | null }>;
      changesTruncated?: boolean;
    };
  };

  it("a report of 600 packages: exact counts, the first changes in its event, up to 200 in its row", async () => {
    const { asset, actor } = await agentOfNewHost(t.ctx, "big-1");
    const first = await recordAgentInventory(t.ctx, actor, many(600, "1.0-1"));
    expect(first).toMatchObject({ total: 600, added: 600, removed: 0, changed: 0 });
    const event = await lastEvent(asset.id);
    expect(event).toMatchObject({ total: 600, added: 600, removed: 0, changed: 0, changesTruncated: true });
    expect(event.changes).toHaveLength(CHANGES_AUDITED);
    // In code-unit order of the package identity.
    expect(event.changes.map((c) => c.name)).toEqual(
      Array.from({ length: CHANGES_AUDITED }, (_, i) => `pkg-${String(i).padStart(3, "0")}`),
    );
    const row = await t.store.db
      .selectFrom("inventory_reports")
      .select(["changes", "added"])
      .where("id", "=", event.report)
      .executeTakeFirstOrThrow();
    const kept = JSON.parse(row.changes) as { changes: unknown[]; truncated: boolean };
    expect(kept.changes).toHaveLength(200);
    expect(kept.truncated).toBe(true);

    // 30 upgrades and one removal: each upgrade is one change, from → to.
    const next = many(600, "1.0-1")
      .map((p, i) => (i < 30 ? { ...p, version: "1.0-2" } : p))
      .slice(0, 599);
    const second = await recordAgentInventory(t.ctx, actor, next);
    expect(second).toMatchObject({ total: 599, added: 0, removed: 1, changed: 30 });
    const upgraded = await lastEvent(asset.id);
    expect(upgraded.changes).toHaveLength(CHANGES_AUDITED);
    expect(upgraded.changes[0]).toEqual({
      ecosystem: "Debian:12",
      name: "pkg-000",
      arch: "amd64",
      from: "1.0-1",
      to: "1.0-2",
    });
    expect(await verifyAuditChain(t.store.db)).toMatchObject({ ok: true });
  });

  it("concurrent reports of one asset: each diffs against the set the one before committed", async () => {
    const { asset, actor } = await agentOfNewHost(t.ctx, "racing-1");
    const sets = [many(50, "1.0-1"), many(60, "1.0-2"), many(40, "1.0-3"), many(55, "1.0-4")];
    // Two first reports at once, then two changes at once: none fails, and the inverted index (the
    // view) holds exactly the set row's packages whichever committed last.
    for (const pair of [sets.slice(0, 2), sets.slice(2)]) {
      const summaries = await Promise.all(pair.map((pkgs) => recordAgentInventory(t.ctx, actor, pkgs)));
      const set = await t.store.db
        .selectFrom("package_sets")
        .select(["total", "digest"])
        .where("asset_id", "=", asset.id)
        .executeTakeFirstOrThrow();
      expect(summaries.map((s) => s.digest)).toContain(set.digest);
      const rows = await t.store.db
        .selectFrom("installed_packages")
        .select("version")
        .where("asset_id", "=", asset.id)
        .execute();
      expect(rows).toHaveLength(Number(set.total));
      expect(new Set(rows.map((r) => r.version)).size).toBe(1);
    }
    const reports = await t.store.db
      .selectFrom("inventory_reports")
      .select(["added", "removed", "changed"])
      .where("asset_id", "=", asset.id)
      .orderBy("received_at")
      .execute();
    expect(reports).toHaveLength(4);
    expect(await verifyAuditChain(t.store.db)).toMatchObject({ ok: true });
  });

  it("a small report's event keeps every change and says nothing was left out", async () => {
    const { asset, actor } = await agentOfNewHost(t.ctx, "small-1");
    await recordAgentInventory(t.ctx, actor, [deb("openssl", "3.0.11-1"), deb("curl", "7.88.1-10")]);
    const event = await lastEvent(asset.id);
    expect(event.changes.map((c) => c.name)).toEqual(["curl", "openssl"]);
    expect(event.changesTruncated).toBeUndefined();
  });

  it("same name and version with another source or purl is another dictionary entry", async () => {
    const { actor } = await agentOfNewHost(t.ctx, "meta-1");
    await recordAgentInventory(t.ctx, actor, [{ ...deb("libmeta", "1.0-1"), sourceName: "meta-a" }]);
    const changed = await recordAgentInventory(t.ctx, actor, [
      { ...deb("libmeta", "1.0-1"), sourceName: "meta-b" },
    ]);
    expect(changed).toMatchObject({ unchanged: false, total: 1 });
    const rows = await t.store.db
      .selectFrom("packages")
      .select("source_name")
      .where("name", "=", "libmeta")
      .orderBy("source_name")
      .execute();
    expect(rows.map((r) => r.source_name)).toEqual(["meta-a", "meta-b"]);
    const again = await recordAgentInventory(t.ctx, actor, [
      { ...deb("libmeta", "1.0-1"), sourceName: "meta-b" },
    ]);
    expect(again).toMatchObject({ unchanged: true });
  });

  it("matches and fixes findings as before, also once the advisories of the ecosystem are gone", async () => {
    await importParsedRecords(
      t.ctx,
      SYSTEM_ACTOR,
      [
        parseOsvRecord(
          {
            id: "DEBIAN-CVE-2099-0101",
            modified: "2026-01-01T00:00:00Z",
            upstream: ["CVE-2099-0101"],
            affected: [
              {
                package: { ecosystem: "Debian:12", name: "libhook" },
                ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "2.0-1" }] }],
              },
            ],
          },
          { file: "inline" },
        ),
      ],
      "inline",
    );
    const { asset, actor } = await agentOfNewHost(t.ctx, "hook-1");
    await recordAgentInventory(t.ctx, actor, [deb("libhook", "1.0-1"), deb("bash", "5.2-1")]);
    const status = async () =>
      (
        await t.store.db
          .selectFrom("findings")
          .select("status")
          .where("asset_id", "=", asset.id)
          .where("vuln_id", "=", "CVE-2099-0101")
          .executeTakeFirst()
      )?.status;
    expect(await status()).toBe("open");
    // No advisory names Debian any more, but the asset has an open finding: removing the package fixes it.
    await t.store.write(async (trx) => {
      await trx.deleteFrom("advisory_packages").where("ecosystem", "=", "Debian").execute();
    });
    await recordAgentInventory(t.ctx, actor, [deb("bash", "5.2-1")]);
    expect(await status()).toBe("fixed");
  });
});
