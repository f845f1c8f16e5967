import { afterEach, describe, expect, it } from "vitest";
import { rematchAll } from "../src/advisories/findings/fleet-rematch.js";
import { getFinding, listFindings } from "../src/advisories/findings/query.js";
import { acceptRisk } from "../src/advisories/findings/status.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { replaceInventory } from "../src/inventory/report.js";
import { userActor } from "./helpers/actors.js";
import { debianAdvisory, insertAdvisories } from "./helpers/advisories.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const OPERATOR = userActor("operator-1", "operator");
const APPROVER = userActor("approver-1", "approver");
const VERSION = "3.0.11-1~deb12u1";

const openssl = (purl: string, sourceName = "openssl"): PackageRecord => ({
  ecosystem: "Debian:12",
  name: "openssl",
  version: VERSION,
  arch: "amd64",
  sourceName,
  sourceVersion: VERSION,
  purl,
});

describe.each(DIALECTS)("findings stored as integers (%s)", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>> | undefined;
  afterEach(async () => {
    await store?.dispose();
    store = undefined;
  });

  it("one finding per installed version whatever its purl or source; fleet ids derived, stable and usable", async () => {
    store = await freshStore(dialect);
    const ctx = contextFor(store);
    await insertAdvisories(store.db, [
      debianAdvisory({
        id: "DSA-9001-1",
        cve: "CVE-2026-9001",
        source: "openssl",
        fixed: "3.0.13-1~deb12u1",
      }),
    ]);
    for (const asset of ["web-1", "web-2"])
      await importInventory(ctx, OPERATOR, {
        asset,
        content: `Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${VERSION}\n`,
        format: "dpkg",
        ecosystem: "Debian:12",
      });
    const first = (await listFindings(ctx)).findings;
    expect(first.map((f) => [f.asset.name, f.package, f.vulnId]).sort()).toEqual([
      ["web-1", "openssl", "CVE-2026-9001"],
      ["web-2", "openssl", "CVE-2026-9001"],
    ]);

    // web-2 reports the same package with a purl (another dictionary row): its finding stays as it was.
    const web2 = first.find((f) => f.asset.name === "web-2");
    await store.write(async (trx) => {
      await replaceInventory(
        trx,
        SYSTEM_ACTOR,
        { id: web2?.asset.id ?? "", name: "web-2" },
        [openssl(`pkg:deb/debian/openssl@${VERSION}?arch=amd64`)],
        "import",
        new Date(),
      );
    });
    expect(await getFinding(ctx, web2?.id ?? "")).toEqual(web2);
    expect(await rematchAll(ctx)).toMatchObject({ opened: 0, updated: 0, fixed: 0 });
    expect((await listFindings(ctx)).findings).toEqual(first);

    // From an empty table, the fleet re-match makes one finding per asset, numbered: derived ids. A
    // chunk per set: the second reuses the fact the first stored.
    await store.db.deleteFrom("finding_rows").execute();
    expect(await rematchAll(ctx, { setsPerChunk: 1 })).toMatchObject({ opened: 2, updated: 0, fixed: 0 });
    const fleet = (await listFindings(ctx)).findings;
    expect(fleet).toHaveLength(2);
    for (const f of fleet) expect(f.id).toMatch(/^ffffffff-ffff-7fff-bfff-[0-9a-f]{12}$/);
    const rows = await store.db
      .selectFrom("finding_rows")
      .select(["package_id", "text_id", "fact"])
      .execute();
    expect(new Set(rows.map((r) => Number(r.package_id))).size).toBe(1);
    expect(new Set(rows.map((r) => Number(r.fact))).size).toBe(1);
    expect(fleet.map((f) => ({ ...f, id: "", asset: "", firstSeen: "", updatedAt: "", dueAt: "" }))).toEqual(
      first.map((f) => ({ ...f, id: "", asset: "", firstSeen: "", updatedAt: "", dueAt: "" })),
    );
    expect(rows.every((r) => r.text_id === null)).toBe(true);
    // The audit events (one per chunk) list the ids the findings show.
    const events = await store.db
      .selectFrom("audit_events")
      .select("data")
      .where("action", "=", "findings.changed")
      .orderBy("seq", "desc")
      .limit(2)
      .execute();
    const listed = events.flatMap((e) => (JSON.parse(e.data) as { ids: { opened: string[] } }).ids.opened);
    expect(listed.sort()).toEqual(fleet.map((f) => f.id).sort());

    // A derived id takes decisions and keeps them through re-matches.
    const target = fleet[0];
    const accepted = await acceptRisk(ctx, APPROVER, target?.id ?? "", {
      reason: "behind the proxy",
      expiresAt: "30d",
    });
    expect(accepted).toMatchObject({ id: target?.id, status: "accepted-risk" });
    expect(await rematchAll(ctx)).toMatchObject({ opened: 0, updated: 0, fixed: 0, reopened: 0 });
    expect(await getFinding(ctx, target?.id ?? "")).toMatchObject({
      status: "accepted-risk",
      firstSeen: target?.firstSeen,
    });
  });
});
