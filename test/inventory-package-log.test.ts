import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { installedRowsForKeys } from "../src/advisories/findings/installed-rows.js";
import type { PackageRecord } from "../src/domain/inventory.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { recordAgentInventory } from "../src/inventory/agents.js";
import { deleteAsset } from "../src/inventory/assets.js";
import { mergeBatch, mergePackageLog } from "../src/inventory/package-log.js";
import { startServer } from "../src/server/start.js";
import { openStore } from "../src/store/store.js";
import { agentOfNewHost } from "./helpers/actors.js";
import { debPackage as deb } from "./helpers/assets.js";
import { contextFor, DIALECTS, suiteStore } from "./helpers/stores.js";

/**
 * The inverted index's log: reports append to it, merges move it into the index, and every reader
 * (the set_packages view, installed_packages, the fleet look-up by advisory key) answers what the
 * stored sets say at every step: after a report and before its merge, between a merge's batches, and
 * while merges and reports run at once.
 */
/** mulberry32: the same reports on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = Array.from({ length: 30 }, (_, i) => `pkg-${String(i).padStart(2, "0")}`);

/** A random set: about two thirds of the names, each at one of three versions. */
function randomReport(random: () => number): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const name of NAMES) if (random() < 0.66) out.push(deb(name, `1.${Math.floor(random() * 3)}`));
  return out.length === 0 ? [deb("pkg-00", "1.0")] : out;
}

describe.each(DIALECTS)("the inverted index's log (%s)", (dialect) => {
  const t = suiteStore(dialect);
  const agentFor = async (name: string) => (await agentOfNewHost(t.ctx, name)).actor;

  /** The pairs the stored sets name, recomputed from package_sets. */
  const expectedPairs = async () => {
    const sets = await t.store.db.selectFrom("package_sets").select(["num", "package_ids"]).execute();
    const pairs: string[] = [];
    for (const s of sets)
      for (const id of JSON.parse(s.package_ids) as number[]) pairs.push(`${id}/${s.num}`);
    return pairs.sort();
  };
  const viewedPairs = async () =>
    (await t.store.db.selectFrom("set_packages").select(["package_id", "set_num"]).execute())
      .map((r) => `${Number(r.package_id)}/${Number(r.set_num)}`)
      .sort();
  /** installed_packages and the look-up by advisory key, against the dictionary rows of the sets. */
  const expectedRows = async () => {
    const rows = await t.store.db
      .selectFrom("package_sets as ps")
      .select(["ps.asset_id", "ps.package_ids"])
      .execute();
    const packages = new Map(
      (await t.store.db.selectFrom("packages").select(["id", "name", "version"]).execute()).map((p) => [
        Number(p.id),
        `${p.name}@${p.version}`,
      ]),
    );
    const out: string[] = [];
    for (const r of rows)
      for (const id of JSON.parse(r.package_ids) as number[]) out.push(`${r.asset_id} ${packages.get(id)}`);
    return out.sort();
  };
  const installedRows = async () =>
    (await t.store.db.selectFrom("installed_packages").select(["asset_id", "name", "version"]).execute())
      .map((r) => `${r.asset_id} ${r.name}@${r.version}`)
      .sort();
  const lookedUpRows = async () =>
    (
      await installedRowsForKeys(
        t.store.db,
        NAMES.map((name) => ({ ecosystem: "Debian:12", name })),
      )
    )
      .map((r) => `${r.asset_id} ${r.name}@${r.version}`)
      .sort();
  const logRows = async () =>
    Number(
      (
        await t.store.db
          .selectFrom("asset_package_log")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  const check = async () => {
    expect(await viewedPairs()).toEqual(await expectedPairs());
    const rows = await expectedRows();
    expect(await installedRows()).toEqual(rows);
    expect(await lookedUpRows()).toEqual(rows);
  };

  it("answers as the sets do between reports, merge batches and merges", async () => {
    const random = rng(7);
    const agents = await Promise.all(["a", "b", "c", "d", "e", "f"].map((n) => agentFor(`log-${n}`)));
    let pendingChecked = false;
    for (let step = 0; step < 60; step++) {
      const agent = agents[Math.floor(random() * agents.length)];
      if (agent === undefined) continue;
      await recordAgentInventory(t.ctx, agent, randomReport(random));
      if (!pendingChecked && (await logRows()) > 0) pendingChecked = true;
      await check();
      const roll = random();
      // Batches of a few pairs: a merge often stops inside a package's range or between reports.
      if (roll < 0.3) await mergeBatch(t.store, 1 + Math.floor(random() * 12));
      else if (roll < 0.4) await mergePackageLog(t.store);
      await check();
    }
    // SQLite appends a changed set's pairs to the log; PostgreSQL writes them to the index at once.
    expect(pendingChecked).toBe(dialect === "sqlite");
    await mergePackageLog(t.store);
    expect(await logRows()).toBe(0);
    await check();
  });

  it("answers as the sets do while reports and merges run at once", async () => {
    const random = rng(11);
    const agents = await Promise.all(["a", "b", "c", "d"].map((n) => agentFor(`at-once-${n}`)));
    for (let round = 0; round < 12; round++) {
      const reports = agents.map((a) => recordAgentInventory(t.ctx, a, randomReport(random)));
      const merges = [mergeBatch(t.store, 5), mergeBatch(t.store, 40), mergePackageLog(t.store)];
      await Promise.all([...reports, ...merges]);
      await check();
      // A read during merges only: the sets hold still, so every answer must equal them.
      const expected = await expectedPairs();
      const [, viewed] = await Promise.all([mergeBatch(t.store, 7), viewedPairs(), mergeBatch(t.store, 3)]);
      expect(viewed).toEqual(expected);
    }
  });

  /**
   * Pending log rows as reports that appended to the log left them, for the sets as they stand: half of
   * each set's pairs moved from the index to the log (to add), and a pair of each package the set lacks
   * both in the index and in the log (to remove). Every reader answers as before.
   */
  const leavePendingPairs = async () => {
    const sets = await t.store.db.selectFrom("package_sets").select(["num", "package_ids"]).execute();
    const ids = (await t.store.db.selectFrom("packages").select("id").execute()).map((r) => Number(r.id));
    await t.store.write(async (trx) => {
      for (const set of sets) {
        const num = Number(set.num);
        const held = new Set(JSON.parse(set.package_ids) as number[]);
        for (const id of held) {
          if (id % 2 === 0) continue;
          await trx
            .deleteFrom("asset_packages")
            .where("package_id", "=", id)
            .where("set_num", "=", num)
            .execute();
          await trx
            .insertInto("asset_package_log")
            .values({ package_id: id, set_num: num, present: 1 })
            .onConflict((oc) => oc.columns(["package_id", "set_num"]).doUpdateSet({ present: 1 }))
            .execute();
        }
        for (const id of ids) {
          if (held.has(id)) continue;
          await trx
            .insertInto("asset_packages")
            .values({ package_id: id, set_num: num })
            .onConflict((oc) => oc.doNothing())
            .execute();
          await trx
            .insertInto("asset_package_log")
            .values({ package_id: id, set_num: num, present: 0 })
            .onConflict((oc) => oc.columns(["package_id", "set_num"]).doUpdateSet({ present: 0 }))
            .execute();
        }
      }
    });
  };

  it("answers as the sets do when reports change pairs the log still holds, merges running at once", async () => {
    const random = rng(23);
    const agents = await Promise.all(["a", "b", "c", "d"].map((n) => agentFor(`pending-${n}`)));
    for (const agent of agents) await recordAgentInventory(t.ctx, agent, randomReport(random));
    for (let round = 0; round < 8; round++) {
      await leavePendingPairs();
      expect(await logRows()).toBeGreaterThan(0);
      await check();
      const reports = agents.map((a) => recordAgentInventory(t.ctx, a, randomReport(random)));
      const merges = round % 2 === 0 ? [mergeBatch(t.store, 3), mergeBatch(t.store, 17)] : [];
      await Promise.all([...reports, ...merges]);
      await check();
    }
    await mergePackageLog(t.store);
    expect(await logRows()).toBe(0);
    await check();
  });

  it("deletes an asset's pairs, those its log removes from the index included", async () => {
    const agent = await agentFor("log-deleted");
    await recordAgentInventory(t.ctx, agent, [
      deb("pkg-00", "1.0"),
      deb("pkg-01", "1.0"),
      deb("pkg-02", "1.0"),
    ]);
    await mergePackageLog(t.store);
    // pkg-01 and pkg-02 leave the set: the log removes them, the index still has them.
    await recordAgentInventory(t.ctx, agent, [deb("pkg-00", "1.0"), deb("pkg-03", "1.0")]);
    const set = await t.store.db
      .selectFrom("package_sets")
      .select("num")
      .where("asset_id", "=", agent.assetId)
      .executeTakeFirstOrThrow();
    await deleteAsset(t.ctx, SYSTEM_ACTOR, "log-deleted");
    for (const table of ["asset_packages", "asset_package_log"] as const) {
      const left = await t.store.db
        .selectFrom(table)
        .select("package_id")
        .where("set_num", "=", set.num)
        .execute();
      expect(left, table).toEqual([]);
    }
    await check();
  });
});

describe("the server's merge of the inverted index's log", () => {
  it("merges what reports left in the log when it starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-package-log-"));
    const url = `sqlite:${join(dir, "autopatch.db")}`;
    try {
      const store = await openStore(url);
      const ctx = contextFor(store);
      const { actor: agent } = await agentOfNewHost(ctx, "log-start");
      await recordAgentInventory(ctx, agent, [deb("pkg-00", "1.0"), deb("pkg-01", "1.0")]);
      await recordAgentInventory(ctx, agent, [deb("pkg-00", "1.1"), deb("pkg-02", "1.0")]);
      const pending = await store.db.selectFrom("asset_package_log").selectAll().execute();
      expect(pending.length).toBeGreaterThan(0);
      await store.close();

      const server = await startServer({
        databaseUrl: url,
        listen: "127.0.0.1:0",
        adminToken: "ap_package-log-test-admin",
        logger: pino({ level: "silent" }),
      });
      try {
        const db = server.ctx.store.db;
        for (let i = 0; i < 200; i++) {
          if ((await db.selectFrom("asset_package_log").selectAll().execute()).length === 0) break;
          await sleep(25);
        }
        expect(await db.selectFrom("asset_package_log").selectAll().execute()).toEqual([]);
        const names = await db
          .selectFrom("installed_packages")
          .select(["name", "version"])
          .orderBy("name")
          .execute();
        expect(names).toEqual([
          { name: "pkg-00", version: "1.1" },
          { name: "pkg-02", version: "1.0" },
        ]);
        expect(await db.selectFrom("asset_packages").select("package_id").execute()).toHaveLength(2);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
