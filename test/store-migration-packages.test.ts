import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { getAsset } from "../src/inventory/assets.js";
import { replaceInventory } from "../src/inventory/report.js";
import { migrateToLatest } from "../src/store/store.js";
import { insertOldHosts, storesBefore, WEB_HOSTS } from "./helpers/migrations.js";
import { contextFor, DIALECTS } from "./helpers/stores.js";

const AT = "2026-01-01T00:00:00.000Z";

describe.each(DIALECTS)("migrating installed_packages to the package dictionary in place (%s)", (dialect) => {
  // A store as the release before the package dictionary left it.
  const stores = storesBefore(dialect, "0015");

  it("keeps every asset's packages, its findings and the history, and reports diff against the old set", async () => {
    const store = await stores.open();
    const db = store.db;
    await insertOldHosts(db, WEB_HOSTS, AT);
    const rows = [
      ["a1", "Debian:12", "openssl", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2", null],
      ["a1", "Debian:12", "libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2", null],
      ["a2", "Debian:12", "openssl", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2", null],
      ["a2", "npm", "semver", "5.7.1", "", null, null, "pkg:npm/semver@5.7.1"],
    ] as const;
    for (const r of rows) {
      await sql`insert into installed_packages (asset_id, ecosystem, name, version, arch, source_name, source_version, purl)
        values (${r[0]}, ${r[1]}, ${r[2]}, ${r[3]}, ${r[4]}, ${r[5]}, ${r[6]}, ${r[7]})`.execute(db);
    }
    await sql`insert into inventory_reports (id, asset_id, received_at, source, total, added, removed, changed, changes)
      values ('r1', 'a1', ${AT}, 'agent', 2, 2, 0, 0, '{"changes":[]}')`.execute(db);

    await migrateToLatest(store);
    const ctx = contextFor(store);
    // Distinct package versions once: openssl on two assets is one dictionary row.
    expect((await db.selectFrom("packages").select("id").execute()).length).toBe(3);
    expect((await db.selectFrom("asset_packages").select("package_id").execute()).length).toBe(4);
    // The old readers: the view keeps its columns.
    const viewed = await db
      .selectFrom("installed_packages")
      .selectAll()
      .orderBy("asset_id")
      .orderBy("name")
      .execute();
    expect(viewed.map((r) => [r.asset_id, r.name, r.source_name, r.purl])).toEqual([
      ["a1", "libssl3", "openssl", null],
      ["a1", "openssl", "openssl", null],
      ["a2", "openssl", "openssl", null],
      ["a2", "semver", "semver", "pkg:npm/semver@5.7.1"],
    ]);
    expect((await getAsset(ctx, "web-2")).packages.map((p) => `${p.name}@${p.version}`)).toEqual([
      "openssl@3.0.11-1~deb12u2",
      "semver@5.7.1",
    ]);
    // A report against the migrated set writes only the difference.
    const summary = await store.write((trx) =>
      replaceInventory(
        trx,
        SYSTEM_ACTOR,
        { id: "a1", name: "web-1" },
        [
          { ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u2", arch: "amd64" },
          {
            ecosystem: "Debian:12",
            name: "libssl3",
            version: "3.0.13-1~deb12u1",
            arch: "amd64",
            sourceName: "openssl",
            sourceVersion: "3.0.13-1~deb12u1",
          },
        ],
        "agent",
        new Date(),
      ),
    );
    expect(summary).toMatchObject({ total: 2, added: 0, removed: 0, changed: 1, unchanged: false });
    // The same set again is recognised by its digest.
    const again = await store.write((trx) =>
      replaceInventory(
        trx,
        SYSTEM_ACTOR,
        { id: "a1", name: "web-1" },
        [
          {
            ecosystem: "Debian:12",
            name: "libssl3",
            version: "3.0.13-1~deb12u1",
            arch: "amd64",
            sourceName: "openssl",
            sourceVersion: "3.0.13-1~deb12u1",
          },
          { ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u2", arch: "amd64" },
        ],
        "agent",
        new Date(),
      ),
    );
    expect(again).toMatchObject({ unchanged: true, digest: summary.digest });
    const history = await db
      .selectFrom("inventory_reports")
      .select("id")
      .where("asset_id", "=", "a1")
      .execute();
    expect(history).toHaveLength(2);
  });
});
