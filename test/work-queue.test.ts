/**
 * Owed work (invariant 9): imports record the re-match they owe in their own transaction, and the
 * work loop drains it — retrying failures, resuming abandoned claims, stopping cleanly, and never
 * running one item twice at the same time, with two loops on one store.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { EpssEntry } from "../src/advisories/epss.js";
import { importEpss } from "../src/advisories/ingest/import-epss.js";
import { importKev } from "../src/advisories/ingest/import-kev.js";
import { importAdvisoryRecords } from "../src/advisories/ingest/import-records.js";
import { MATCHER_WORK_KINDS } from "../src/advisories/ingest/matcher-hooks.js";
import { type OsvRecord, parseOsvRecord } from "../src/advisories/osv/schema.js";
import { appendAudit } from "../src/audit/log.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import type { ServiceContext } from "../src/service/context.js";
import { openStore, type Store } from "../src/store/store.js";
import { claimDue } from "../src/work/claim.js";
import { drainOwedWork } from "../src/work/drain.js";
import { startWorkLoop } from "../src/work/loop.js";
import { oweWork } from "../src/work/owe.js";
import { WorkRegistry } from "../src/work/registry.js";
import { WorkRunner } from "../src/work/runner.js";
import type { WorkKind } from "../src/work/work-kind.js";
import { debianAdvisory } from "./helpers/advisories.js";
import { runCli } from "./helpers/cli.js";
import { freshDatabase } from "./helpers/database-url.js";
import { KEV } from "./helpers/kev.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const STATUS = [
  "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n",
  "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n",
  "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u4\n",
].join("\n");

const ADVISORY = debianAdvisory({
  id: "DSA-5532-1",
  cve: "CVE-2023-5678",
  source: "openssl",
  fixed: "3.0.13-1~deb12u1",
  cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
  modified: "2025-01-01T00:00:00Z",
});
const SECOND_ADVISORY = debianAdvisory({
  id: "DSA-5533-1",
  cve: "CVE-2023-6129",
  source: "openssl",
  fixed: "3.0.13-1~deb12u1",
  modified: "2025-01-01T00:00:00Z",
});

const records = (...raw: Record<string, unknown>[]): OsvRecord[] =>
  raw.map((r, i) => parseOsvRecord(r, { file: "test", pointerBase: `/${i}` }));

const EPSS: EpssEntry[] = [{ cve: "CVE-2023-5678", epss: 0.5, percentile: 0.97 }];

const held = (ctx: ServiceContext): ServiceContext => ({ ...ctx, config: { ...ctx.config, holdWork: true } });

async function workRows(store: Store) {
  return store.db.selectFrom("work_items").selectAll().orderBy("kind").orderBy("key").execute();
}

async function count(store: Store, table: "findings" | "advisories" | "kev_entries" | "epss_scores") {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Makes every insert into a table fail, as a full disk or a lost connection would. */
async function failInserts(store: Store, table: "audit_events" | "finding_rows"): Promise<void> {
  const name = sql.id(`fail_${table}`);
  if (store.dialect === "sqlite") {
    await sql`create trigger ${name} before insert on ${sql.table(table)} begin select raise(abort, 'injected failure'); end`.execute(
      store.db,
    );
    return;
  }
  await sql`create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`.execute(
    store.db,
  );
  await sql`create trigger ${name} before insert on ${sql.table(table)} for each row execute function ${name}()`.execute(
    store.db,
  );
}

async function allowInserts(store: Store, table: "audit_events" | "finding_rows"): Promise<void> {
  await sql`drop trigger ${sql.id(`fail_${table}`)}${store.dialect === "postgres" ? sql` on ${sql.table(table)}` : sql``}`.execute(
    store.db,
  );
}

describe.each(DIALECTS)("imports owe their re-match in their own transaction (%s)", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  beforeEach(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    await importInventory(ctx, SYSTEM_ACTOR, {
      asset: "web-1",
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    return () => store.dispose();
  });

  it("records the re-match with the import's data, one row per package or CVE however often owed", async () => {
    const hold = held(ctx);
    await importAdvisoryRecords(hold, SYSTEM_ACTOR, records(ADVISORY), "first.json");
    // A second import owing the same package's re-match joins the first one's row.
    await importAdvisoryRecords(hold, SYSTEM_ACTOR, records(SECOND_ADVISORY), "second.json");
    await importKev(hold, SYSTEM_ACTOR, KEV);
    await importEpss(hold, SYSTEM_ACTOR, EPSS, "epss.csv");
    expect((await workRows(store)).map((r) => [r.kind, r.key, JSON.parse(r.payload)])).toEqual([
      ["findings.refresh-risk", "CVE-2023-5678", { cve: "CVE-2023-5678" }],
      ["findings.rematch-packages", '["Debian","openssl"]', { ecosystem: "Debian", name: "openssl" }],
    ]);
    expect(await count(store, "findings")).toBe(0);

    const result = await drainOwedWork(ctx, MATCHER_WORK_KINDS);
    expect(result).toMatchObject({ failures: [] });
    expect(await workRows(store)).toEqual([]);
    const findings = await store.db
      .selectFrom("findings")
      .select(["package_name", "vuln_id", "kev"])
      .orderBy("package_name")
      .orderBy("vuln_id")
      .execute();
    expect(findings.map((f) => [f.package_name, f.vuln_id, Number(f.kev)])).toEqual([
      ["libssl3", "CVE-2023-5678", 1],
      ["libssl3", "CVE-2023-6129", 0],
      ["openssl", "CVE-2023-5678", 1],
      ["openssl", "CVE-2023-6129", 0],
    ]);
  });

  it("owes one refresh of every finding when an import touches more CVEs than it would look up", async () => {
    await importAdvisoryRecords(ctx, SYSTEM_ACTOR, records(ADVISORY), "first.json");
    const many: EpssEntry[] = [
      ...EPSS,
      ...Array.from({ length: 2000 }, (_, i) => ({
        cve: `CVE-2099-${10000 + i}`,
        epss: 0.01,
        percentile: 0.1,
      })),
    ];
    await importEpss(held(ctx), SYSTEM_ACTOR, many, "epss.csv");
    expect((await workRows(store)).map((r) => [r.kind, r.key])).toEqual([["findings.refresh-risk", "*"]]);
    expect(await drainOwedWork(ctx, MATCHER_WORK_KINDS)).toMatchObject({ done: 1, failures: [] });
    const epss = await store.db.selectFrom("findings").select("epss").execute();
    expect(epss.map((f) => Number(f.epss))).toEqual([0.5, 0.5]);
  });

  it("does the owed work before an import returns unless it is held", async () => {
    await importAdvisoryRecords(ctx, SYSTEM_ACTOR, records(ADVISORY), "first.json");
    expect(await workRows(store)).toEqual([]);
    expect(await count(store, "findings")).toBe(2);
  });

  it("records nothing when the import fails after owing its work", async () => {
    // The audit append comes after the import has owed its work: the rollback must take both.
    await failInserts(store, "audit_events");
    await expect(importAdvisoryRecords(ctx, SYSTEM_ACTOR, records(ADVISORY), "first.json")).rejects.toThrow(
      /injected failure/,
    );
    await expect(importKev(ctx, SYSTEM_ACTOR, KEV)).rejects.toThrow(/injected failure/);
    await expect(importEpss(ctx, SYSTEM_ACTOR, EPSS, "epss.csv")).rejects.toThrow(/injected failure/);
    expect(await workRows(store)).toEqual([]);
    expect(await count(store, "advisories")).toBe(0);
    expect(await count(store, "kev_entries")).toBe(0);
    expect(await count(store, "epss_scores")).toBe(0);
  });

  it("keeps the import and the debt when the re-match fails, and does the work on the next drain", async () => {
    await failInserts(store, "finding_rows");
    await expect(
      importAdvisoryRecords(ctx, SYSTEM_ACTOR, records(ADVISORY), "first.json"),
    ).rejects.toMatchObject({
      code: "internal",
      reason: "store.work-failed",
    });
    expect(await count(store, "advisories")).toBe(1);
    const [row] = await workRows(store);
    expect(row).toMatchObject({ kind: "findings.rematch-packages", lease_owner: null });
    expect(Number(row?.attempts)).toBe(1);
    expect(row?.last_error).toMatch(/injected failure/);

    await allowInserts(store, "finding_rows");
    const later = { ...ctx, now: () => new Date(Date.now() + 60 * 60 * 1000) };
    expect(await drainOwedWork(later, MATCHER_WORK_KINDS)).toMatchObject({ done: 1, failures: [] });
    expect(await workRows(store)).toEqual([]);
    expect(await count(store, "findings")).toBe(2);
  });
});

/** A kind whose effect is an audit event per item; items whose payload says so fail. */
function auditingKind(
  name: string,
  options: { batch?: number; leaseMs?: number } = {},
): WorkKind<{ fail: boolean }> {
  return {
    name,
    batch: options.batch ?? 10,
    leaseMs: options.leaseMs ?? 60_000,
    parse: (payload) => z.object({ fail: z.boolean() }).parse(payload),
    async run(trx, items, _ctx, now) {
      for (const item of items) {
        await appendAudit(
          trx,
          { actor: "system", action: "test.work", targetType: "work", targetId: item.key },
          now,
        );
      }
      const failing = items.find((i) => i.payload.fail);
      if (failing) throw new Error(`${failing.key} always fails`);
    },
  };
}

async function owe(
  ctx: ServiceContext,
  kind: WorkKind<{ fail: boolean }>,
  keys: string[],
  failing: string[] = [],
) {
  await ctx.store.write((trx) =>
    oweWork(
      trx,
      kind,
      keys.map((key) => ({ key, payload: { fail: failing.includes(key) } })),
      ctx.now(),
    ),
  );
}

async function effects(store: Store): Promise<string[]> {
  const rows = await store.db
    .selectFrom("audit_events")
    .select("target_id")
    .where("action", "=", "test.work")
    .orderBy("target_id")
    .execute();
  return rows.map((r) => r.target_id);
}

describe.each(DIALECTS)("the work loop (%s)", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let clock: Date;
  let ctx: ServiceContext;
  beforeEach(async () => {
    store = await freshStore(dialect);
    clock = new Date("2026-01-01T00:00:00.000Z");
    ctx = contextFor(store, () => clock);
    return () => store.dispose();
  });

  it("rolls a failed run back, retries it after a backoff, and lets the rest of its batch through", async () => {
    const kind = auditingKind("test.retry");
    await owe(ctx, kind, ["a", "b", "c", "d"], ["c"]);
    const runner = new WorkRunner(ctx, [kind]);
    const first = await runner.drain();
    expect(first.done).toBe(3);
    expect(first.failures.map((f) => f.key)).toEqual(["c"]);
    // The failing item's own effect was rolled back with it; the others' committed once each.
    expect(await effects(store)).toEqual(["a", "b", "d"]);
    const [row] = await workRows(store);
    expect(row).toMatchObject({ key: "c", lease_owner: null, last_error: "c always fails" });
    expect(Number(row?.attempts)).toBe(1);
    const retryAt = Date.parse(row?.next_attempt_at ?? "");
    expect(retryAt).toBeGreaterThan(clock.getTime());

    // Not due again before its backoff ends; then retried, and counted, again.
    clock = new Date(retryAt - 1);
    expect((await runner.drain()).claimed).toBe(0);
    clock = new Date(retryAt + 1);
    expect((await runner.drain()).failures).toHaveLength(1);
    expect(Number((await workRows(store))[0]?.attempts)).toBe(2);

    // Owing it again with a payload that now succeeds makes it due at once.
    await owe(ctx, kind, ["c"]);
    expect((await runner.drain()).done).toBe(1);
    expect(await workRows(store)).toEqual([]);
    expect(await effects(store)).toEqual(["a", "b", "c", "d"]);
  });

  it("takes over the items of a runner that died holding their lease, once the lease ends", async () => {
    const kind = auditingKind("test.takeover", { leaseMs: 30_000 });
    await owe(ctx, kind, ["x"]);
    expect(
      await claimDue(ctx, {
        kind: kind.name,
        owner: "dead-runner",
        now: clock,
        limit: 10,
        leaseMs: kind.leaseMs,
      }),
    ).toHaveLength(1);
    const runner = new WorkRunner(ctx, [kind]);
    expect((await runner.drain()).claimed).toBe(0);
    clock = new Date(clock.getTime() + 30_001);
    expect((await runner.drain()).done).toBe(1);
    expect(await effects(store)).toEqual(["x"]);
  });

  it("leaves fresh items to the process that owes them for a grace period, then takes them", async () => {
    const kind = auditingKind("test.grace");
    await owe(ctx, kind, ["fresh"]);
    const loopRunner = new WorkRunner(ctx, [kind], { graceMs: 5_000 });
    expect((await loopRunner.drain()).claimed).toBe(0);
    clock = new Date(clock.getTime() + 5_000);
    expect((await loopRunner.drain()).done).toBe(1);
    expect(await effects(store)).toEqual(["fresh"]);
  });

  it("stops after the item in flight has committed", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const kind: WorkKind<{ fail: boolean }> = {
      ...auditingKind("test.stop"),
      async run(trx, items, c, now) {
        started = true;
        await gate;
        await auditingKind("test.stop").run(trx, items, c, now);
      },
    };
    await owe(ctx, kind, ["slow"]);
    const loop = startWorkLoop({ ...ctx, now: () => new Date() }, new WorkRegistry([kind]), {
      pollMs: 10,
      graceMs: 0,
    });
    while (!started) await sleep(5);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await sleep(100);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await workRows(store)).toEqual([]);
    expect(await effects(store)).toEqual(["slow"]);
  });
});

describe.each(DIALECTS)("two work loops on one store (%s)", (dialect) => {
  it("never run one item twice at the same time, and run each once", { timeout: 120_000 }, async () => {
    const database = await freshDatabase(dialect);
    // PostgreSQL: two stores, as two replicas have. SQLite: one store (one writer per file), two loops.
    const first = await openStore(database.url);
    const second = dialect === "postgres" ? await openStore(database.url) : first;
    try {
      const running = new Map<string, string>();
      const overlaps: string[] = [];
      const runs = new Map<string, string[]>();
      const loopOf = new Map<ServiceContext, string>();
      // Leases far shorter than a run: only the row locks keep a second loop off an item in flight.
      const kind: WorkKind<{ fail: boolean }> = {
        ...auditingKind("test.exclusive", { batch: 4, leaseMs: 5 }),
        async run(trx, items, c, now) {
          const me = loopOf.get(c) ?? "?";
          for (const item of items) {
            if (running.has(item.key)) overlaps.push(`${item.key}: ${running.get(item.key)} and ${me}`);
            running.set(item.key, me);
          }
          await sleep(15);
          await auditingKind("test.exclusive").run(trx, items, c, now);
          for (const item of items) {
            running.delete(item.key);
            runs.set(item.key, [...(runs.get(item.key) ?? []), me]);
          }
        },
      };
      const ctxA = contextFor(first);
      const ctxB = contextFor(second);
      loopOf.set(ctxA, "A");
      loopOf.set(ctxB, "B");
      const keys = Array.from({ length: 120 }, (_, i) => `item-${String(i).padStart(3, "0")}`);
      await owe(ctxA, kind, keys);
      const registry = new WorkRegistry([kind]);
      const loops = [
        startWorkLoop(ctxA, registry, { pollMs: 5, graceMs: 0 }),
        startWorkLoop(ctxB, registry, { pollMs: 5, graceMs: 0 }),
      ];
      const end = Date.now() + 90_000;
      while ((await workRows(first)).length > 0 && Date.now() < end) await sleep(50);
      await Promise.all(loops.map((l) => l.stop()));

      expect(overlaps).toEqual([]);
      expect(await workRows(first)).toEqual([]);
      expect([...runs.keys()].sort()).toEqual(keys);
      expect([...runs.values()].filter((by) => by.length !== 1)).toEqual([]);
      expect(await effects(first)).toEqual(keys);
      // Both loops did part of the work.
      const by = [...runs.values()].flat();
      expect(by).toContain("A");
      expect(by).toContain("B");
    } finally {
      if (second !== first) await second.close();
      await first.close();
      await database.dispose();
    }
  });
});

describe("the CLI's offline import", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-offline-work-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("does the re-match it owes before it exits", { timeout: 60_000 }, async () => {
    const url = `sqlite:${join(dir, "offline.db")}`;
    const store = await openStore(url);
    await importInventory(contextFor(store), SYSTEM_ACTOR, {
      asset: "web-1",
      content: STATUS,
      format: "dpkg",
      ecosystem: "Debian:12",
    });
    await store.close();
    writeFileSync(join(dir, "dsa.json"), JSON.stringify([ADVISORY]));
    const result = await runCli(["advisories", "import", join(dir, "dsa.json"), "--database", url, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const after = await openStore(url, { migrate: false });
    try {
      expect(await workRows(after)).toEqual([]);
      expect(await count(after, "findings")).toBe(2);
    } finally {
      await after.close();
    }
  });
});
