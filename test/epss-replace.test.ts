/**
 * EPSS files replace the stored scores (a CVE a newer file leaves out loses its score; an older file
 * is refused unless forced), and the findings an import moves from one class to another are counted
 * in its summary and audited, per class moved.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEpssCsv } from "../src/advisories/epss.js";
import { importEpss } from "../src/advisories/ingest/import-epss.js";
import { importKev } from "../src/advisories/ingest/import-kev.js";
import { importAdvisoryRecords } from "../src/advisories/ingest/import-records.js";
import { parseOsvRecord } from "../src/advisories/osv/schema.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import type { ServiceContext } from "../src/service/context.js";
import { debianAdvisory } from "./helpers/advisories.js";
import { KEV } from "./helpers/kev.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const STATUS = [
  "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n",
  "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n",
].join("\n");

const ADVISORIES = [
  debianAdvisory({
    id: "DSA-5532-1",
    cve: "CVE-2023-5678",
    source: "openssl",
    fixed: "3.0.13-1~deb12u1",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    modified: "2025-01-01T00:00:00Z",
  }),
  debianAdvisory({
    id: "DSA-5533-1",
    cve: "CVE-2023-6129",
    source: "openssl",
    fixed: "3.0.13-1~deb12u1",
    modified: "2025-01-01T00:00:00Z",
  }),
].map((r, i) => parseOsvRecord(r, { file: "test", pointerBase: `/${i}` }));

/** A FIRST-style daily file: the comment line with the score date, then cve,epss,percentile. */
const epssFile = (date: string, rows: ReadonlyArray<readonly [string, number]>) =>
  parseEpssCsv(
    [
      `#model_version:v2025.03.14,score_date:${date}T00:00:00+0000`,
      "cve,epss,percentile",
      ...rows.map(([cve, epss]) => `${cve},${epss},0.5`),
    ].join("\n"),
    `epss-${date}.csv`,
  );

describe.each(DIALECTS)("EPSS replacement and class moves on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;

  const scores = async () =>
    (await store.db.selectFrom("epss_scores").select(["cve", "epss"]).orderBy("cve").execute()).map((r) => [
      r.cve,
      Number(r.epss),
    ]);
  const classes = async () =>
    new Map(
      (
        await store.db
          .selectFrom("findings")
          .select(["id", "class", "epss"])
          .where("status", "!=", "fixed")
          .execute()
      ).map((r) => [r.id, { cls: r.class, epss: r.epss === null ? null : Number(r.epss) }]),
    );
  /** The moves between two snapshots, counted independently of the code under test. */
  const movesBetween = (
    before: Awaited<ReturnType<typeof classes>>,
    after: Awaited<ReturnType<typeof classes>>,
  ) => {
    const counts = new Map<string, number>();
    for (const [id, b] of before) {
      const a = after.get(id);
      if (a === undefined || a.cls === b.cls) continue;
      const key = `${b.cls}>${a.cls}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([key, count]) => {
      const [from, to] = key.split(">");
      return { from, to, count };
    });
  };
  const classMovedEvents = async () =>
    (
      await store.db
        .selectFrom("audit_events")
        .select(["data"])
        .where("action", "=", "findings.class_moved")
        .orderBy("seq")
        .execute()
    ).map((e) => JSON.parse(e.data) as { trigger: string; moved: number; moves: unknown[] });

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "web-1",
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    await importAdvisoryRecords(ctx, SYSTEM_ACTOR, ADVISORIES, "advisories.json");
  });
  afterAll(() => store.dispose());

  it("a newer file replaces the scores: a CVE it leaves out loses its score, on the findings too", async () => {
    const first = await importEpss(
      ctx,
      SYSTEM_ACTOR,
      epssFile("2025-08-26", [
        ["CVE-2023-5678", 0.97],
        ["CVE-2023-6129", 0.5],
        ["CVE-2020-0001", 0.1],
      ]),
      "first.csv",
    );
    expect(first).toMatchObject({ total: 3, added: 3, removed: 0 });
    // A likely exploit makes CVE-2023-5678 (CVSS 7.5, high) an emergency on both openssl binaries.
    expect(first.classMoves).toEqual([{ from: "high", to: "emergency", count: 2 }]);
    expect((await classMovedEvents()).at(-1)).toEqual({
      trigger: "risk-refresh",
      moved: 2,
      moves: [{ from: "high", to: "emergency", count: 2 }],
    });
    const before = await classes();
    expect([...before.values()].every((f) => f.epss !== null)).toBe(true);

    const second = await importEpss(
      ctx,
      SYSTEM_ACTOR,
      epssFile("2025-08-27", [["CVE-2023-6129", 0.4]]),
      "second.csv",
    );
    expect(second).toMatchObject({
      total: 1,
      added: 0,
      updated: 1,
      removed: 2,
      scoreDate: "2025-08-27T00:00:00+0000",
    });
    expect(await scores()).toEqual([["CVE-2023-6129", 0.4]]);
    const after = await classes();
    const named = await store.db
      .selectFrom("findings")
      .select(["vuln_id", "epss"])
      .where("status", "!=", "fixed")
      .orderBy("vuln_id")
      .execute();
    // CVE-2023-5678 lost its score; CVE-2023-6129 has the new one.
    expect(named.map((f) => [f.vuln_id, f.epss === null ? null : Number(f.epss)])).toEqual([
      ["CVE-2023-5678", null],
      ["CVE-2023-5678", null],
      ["CVE-2023-6129", expect.closeTo(0.4, 5)],
      ["CVE-2023-6129", expect.closeTo(0.4, 5)],
    ]);
    // Its score gone, CVE-2023-5678 is high again.
    expect(second.classMoves).toEqual([{ from: "emergency", to: "high", count: 2 }]);
    expect(second.classMoves).toEqual(movesBetween(before, after));
  });

  it("refuses an older file, and an undated one over dated scores, unless forced", async () => {
    const stored = await scores();
    await expect(
      importEpss(ctx, SYSTEM_ACTOR, epssFile("2025-08-01", [["CVE-2023-5678", 0.2]]), "old.csv"),
    ).rejects.toMatchObject({ code: "conflict", reason: "epss.older-file" });
    const undated = parseEpssCsv("cve,epss,percentile\nCVE-2023-5678,0.2,0.5\n", "undated.csv");
    await expect(importEpss(ctx, SYSTEM_ACTOR, undated, "undated.csv")).rejects.toMatchObject({
      reason: "epss.older-file",
    });
    expect(await scores()).toEqual(stored);

    const forced = await importEpss(
      ctx,
      SYSTEM_ACTOR,
      epssFile("2025-08-01", [["CVE-2023-5678", 0.2]]),
      "old.csv",
      { force: true },
    );
    expect(forced).toMatchObject({ added: 1, removed: 1 });
    expect(await scores()).toEqual([["CVE-2023-5678", expect.closeTo(0.2, 5)]]);
    const audited = await store.db
      .selectFrom("audit_events")
      .select("data")
      .where("action", "=", "advisories.epss_imported")
      .orderBy("seq", "desc")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(audited.data)).toMatchObject({
      forced: true,
      storedScoreDate: "2025-08-27T00:00:00+0000",
    });
  });

  it("a KEV import reports the moves it makes, and audits none when nothing moved", async () => {
    const before = await classes();
    const eventsBefore = (await classMovedEvents()).length;
    const summary = await importKev(ctx, SYSTEM_ACTOR, KEV);
    const after = await classes();
    expect(summary.classMoves).toEqual(movesBetween(before, after));
    expect(await classMovedEvents()).toHaveLength(eventsBefore + (summary.classMoves.length > 0 ? 1 : 0));
    // The same catalog again changes no fact, so no class.
    expect((await importKev(ctx, SYSTEM_ACTOR, KEV)).classMoves).toEqual([]);
  });
});
