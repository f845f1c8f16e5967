// A full re-match skips the package sets whose inputs did not move, and matches again the ones whose
// inputs did: each input is changed in turn, straight in the store (no import hook re-matches first),
// and the next full re-match must bring the findings up to date, then skip again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findingRowNum } from "../src/advisories/findings/finding-rows.js";
import type { FindingsDelta } from "../src/advisories/findings/fleet-rematch.js";
import { rematchAll } from "../src/advisories/findings/rematch.js";
import { acceptRisk } from "../src/advisories/findings/status.js";
import type { Role } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { applyPolicy } from "../src/policy/store.js";
import type { ServiceContext } from "../src/service/context.js";
import { userActor } from "./helpers/actors.js";
import { debianAdvisory, insertAdvisories } from "./helpers/advisories.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const DAY = 86_400_000;

const person = (role: Role) => userActor(`${role}-1`, role);
const ADMIN = person("admin");
const OPERATOR = person("operator");

const CURL_OLD = "7.88.1-10+deb12u4";
const CURL_NEW = "7.88.1-10+deb12u9";
const dpkg = (version: string) =>
  `Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n\n` +
  "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n";

describe.each(DIALECTS)("full re-match inputs on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  const T0 = new Date("2026-11-20T10:00:00.000Z");
  let clock = T0;

  const findings = () =>
    store.db.selectFrom("findings").selectAll().orderBy("asset_id").orderBy("vuln_id").execute();
  const changed = (d: FindingsDelta) => d.opened + d.updated + d.reopened + d.fixed;
  /** A run after a change: it changes something; the run after it matches nothing and changes nothing. */
  const rematchThenSkip = async (): Promise<FindingsDelta> => {
    const first = await rematchAll(ctx);
    const again = await rematchAll(ctx);
    expect(again).toMatchObject({ opened: 0, updated: 0, reopened: 0, fixed: 0, packages: 0 });
    expect(again.unchanged).toBe(first.unchanged + first.opened + first.updated + first.reopened);
    return first;
  };

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock);
    await insertAdvisories(store.db, [
      debianAdvisory({
        id: "DSA-5525-1",
        cve: "CVE-2023-38545",
        source: "curl",
        fixed: "7.88.1-10+deb12u5",
        cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      }),
    ]);
    for (const [asset, version] of [
      ["web-1", CURL_OLD],
      ["web-2", CURL_OLD],
      ["db-1", CURL_NEW],
    ] as const)
      await importInventory(ctx, OPERATOR, {
        asset,
        content: dpkg(version),
        format: "dpkg",
        ecosystem: "Debian:12",
      });
  });
  afterAll(async () => {
    await store.dispose();
  });

  it("records the first run and skips every set on the next", async () => {
    const first = await rematchAll(ctx);
    expect(first.packages).toBeGreaterThan(0);
    expect(changed(first)).toBe(0);
    expect(first.unchanged).toBe(2);
    const second = await rematchAll(ctx);
    expect(second).toMatchObject({ packages: 0, unchanged: 2, opened: 0, updated: 0, fixed: 0 });
  });

  it("a new advisory", async () => {
    await insertAdvisories(store.db, [
      debianAdvisory({ id: "DEBIAN-CVE-2026-0001", source: "zlib", fixed: "1:1.3-1" }),
    ]);
    const d = await rematchThenSkip();
    expect(d.opened).toBe(3);
    expect((await findings()).filter((f) => f.vuln_id === "DEBIAN-CVE-2026-0001")).toHaveLength(3);
  });

  it("a KEV entry", async () => {
    await store.write(async (trx) => {
      await trx
        .insertInto("kev_entries")
        .values({
          cve: "CVE-2023-38545",
          vendor: "haxx",
          product: "curl",
          name: "curl SOCKS5 heap overflow",
          date_added: "2026-11-01",
          due_date: null,
          ransomware: 0,
          catalog_version: "2026.11.01",
        })
        .execute();
    });
    const d = await rematchThenSkip();
    expect(d.updated).toBe(2);
    const curl = (await findings()).filter((f) => f.vuln_id === "CVE-2023-38545");
    expect(curl.map((f) => Number(f.kev))).toEqual([1, 1]);
    expect(curl.every((f) => f.class === "emergency")).toBe(true);
  });

  it("an EPSS file", async () => {
    await store.write(async (trx) => {
      await trx
        .insertInto("epss_scores")
        .values({ cve: "CVE-2023-38545", epss: 0.5, percentile: 0.97, score_date: "2026-11-19" })
        .execute();
    });
    const d = await rematchThenSkip();
    expect(d.updated).toBe(2);
    const curl = (await findings()).filter((f) => f.vuln_id === "CVE-2023-38545");
    expect(curl.map((f) => Number(f.epss))).toEqual([0.5, 0.5]);
  });

  it("the findings policy", async () => {
    await applyPolicy(ctx, ADMIN, "name: strict\nclassification:\n  sla: {emergency: 2d, routine: 7d}\n");
    // Chosen straight in the store: no re-dating is owed, only the full re-match can notice.
    await store.write(async (trx) => {
      await trx
        .insertInto("policy_selections")
        .values({ purpose: "findings", name: "strict", chosen_by: "t", chosen_at: clock.toISOString() })
        .execute();
    });
    const d = await rematchThenSkip();
    expect(d.updated).toBeGreaterThanOrEqual(2);
    for (const f of (await findings()).filter((x) => x.vuln_id === "CVE-2023-38545"))
      expect(Date.parse(f.due_at ?? "") - Date.parse(f.first_seen)).toBe(2 * DAY);
  });

  it("an asset's packages", async () => {
    // db-1 gets web-1's vulnerable curl, written into its set directly.
    const [web, db] = await Promise.all(
      ["web-1", "db-1"].map((name) =>
        store.db
          .selectFrom("package_sets as ps")
          .innerJoin("assets as a", "a.id", "ps.asset_id")
          .select(["ps.num", "ps.package_ids", "a.id"])
          .where("a.name", "=", name)
          .executeTakeFirstOrThrow(),
      ),
    );
    const ids = JSON.parse(web?.package_ids ?? "[]") as number[];
    await store.write(async (trx) => {
      await trx
        .updateTable("package_sets")
        .set({ package_ids: JSON.stringify(ids), digest: "moved by hand" })
        .where("num", "=", Number(db?.num))
        .execute();
      await trx.deleteFrom("asset_packages").where("set_num", "=", Number(db?.num)).execute();
      await trx.deleteFrom("asset_package_log").where("set_num", "=", Number(db?.num)).execute();
      await trx
        .insertInto("asset_packages")
        .values(ids.map((package_id) => ({ package_id, set_num: Number(db?.num) })))
        .execute();
    });
    const d = await rematchThenSkip();
    expect(d.opened).toBe(1);
    const mine = (await findings()).filter((f) => f.asset_id === db?.id && f.status === "open");
    expect(mine.map((f) => f.vuln_id).sort()).toEqual(["CVE-2023-38545", "DEBIAN-CVE-2026-0001"]);
  });

  it("an asset's risk inputs", async () => {
    await store.write(async (trx) => {
      await trx.updateTable("assets").set({ criticality: 1 }).where("name", "=", "web-2").execute();
    });
    const d = await rematchThenSkip();
    expect(d.updated).toBeGreaterThanOrEqual(1);
  });

  it("an accepted risk that expires", async () => {
    const target = (await findings()).find((f) => f.vuln_id === "DEBIAN-CVE-2026-0001");
    await acceptRisk(ctx, ADMIN, target?.id ?? "", { reason: "lab host", expiresAt: "1d" });
    expect(await rematchAll(ctx)).toMatchObject({ reopened: 0, packages: 0 });
    clock = new Date(T0.getTime() + 2 * DAY);
    const d = await rematchThenSkip();
    expect(d.reopened).toBe(1);
    expect((await findings()).find((f) => f.id === target?.id)?.status).toBe("open");
  });

  it("a deleted finding", async () => {
    const target = (await findings())[0];
    await store.write(async (trx) => {
      await trx
        .deleteFrom("finding_rows")
        .where("num", "=", (await findingRowNum(trx, target?.id ?? "")) ?? -1)
        .execute();
    });
    const d = await rematchThenSkip();
    expect(d.opened).toBe(1);
  });

  it("an inventory report after an advisory was written matches it, not the advisories it read before", async () => {
    const report = (version: string) =>
      importInventory(ctx, OPERATOR, {
        asset: "app-1",
        content: `Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo\nVersion: ${version}\n`,
        format: "dpkg",
        ecosystem: "Debian:12",
      });
    const mine = async () =>
      (await findings())
        .filter((f) => f.package_name === "libfoo1" && f.status === "open")
        .map((f) => f.vuln_id);
    await report("1.0-1");
    expect(await mine()).toEqual([]);
    await insertAdvisories(store.db, [
      debianAdvisory({ id: "DEBIAN-CVE-2026-0002", source: "foo", fixed: "2.0-1" }),
    ]);
    await report("1.0-2");
    expect(await mine()).toEqual(["DEBIAN-CVE-2026-0002"]);
  });

  it("leaves the findings a full comparison of every set would", async () => {
    const before = await findings();
    await store.write(async (trx) => {
      await trx.deleteFrom("match_state").execute();
    });
    const full = await rematchAll(ctx);
    expect(changed(full)).toBe(0);
    expect(full.packages).toBeGreaterThan(0);
    expect(await findings()).toEqual(before);
  });
});
