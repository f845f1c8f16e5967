import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { acquireLease, listLeases } from "../src/scheduler/lease.js";
import type { LoopRegistration } from "../src/scheduler/loop.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { registerEngineLoops } from "../src/server/engine-loops.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { openStore, type Store } from "../src/store/store.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const silent = pino({ level: "silent" });

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** Who is inside a pass of the loop right now, across the schedulers of this process. */
class PassTracker {
  inside = new Set<string>();
  overlaps: string[] = [];
  runs = new Map<string, number>();

  async enter(who: string, work: () => Promise<void>): Promise<void> {
    if (this.inside.size > 0)
      this.overlaps.push(`${who} entered while ${[...this.inside].join(", ")} inside`);
    this.inside.add(who);
    try {
      await work();
    } finally {
      this.inside.delete(who);
      this.runs.set(who, (this.runs.get(who) ?? 0) + 1);
    }
  }
}

const loop = (overrides: Partial<LoopRegistration> & Pick<LoopRegistration, "run">): LoopRegistration => ({
  name: "sweep",
  scope: "one-replica",
  intervalMs: 2,
  timeoutMs: 5_000,
  initialDelayMs: 0,
  ...overrides,
});

/** The lease row of a loop as the store has it now. */
async function leaseOf(store: Store, name: string) {
  return (await listLeases(store)).find((l) => l.name === name);
}

describe.each(DIALECTS)("the scheduler's one-replica leases (%s)", (dialect) => {
  /** Two stores on one database, as two replicas have (on SQLite: two connections to one file). */
  async function twoReplicas(): Promise<{ a: Store; b: Store; dispose(): Promise<void> }> {
    const first = await freshStore(dialect);
    const second = await openStore(first.url);
    return {
      a: first,
      b: second,
      dispose: async () => {
        await second.close();
        await first.dispose();
      },
    };
  }

  it("two schedulers never run a one-replica pass at once, while the lease changes hands", {
    timeout: 60_000,
  }, async () => {
    const { a, b, dispose } = await twoReplicas();
    const tracker = new PassTracker();
    const wrongOwner: string[] = [];
    const make = (store: Store, who: string): Scheduler => {
      const scheduler = new Scheduler({ logger: silent, store, replicaId: who, jitter: 0.5 });
      scheduler.register(
        loop({
          // A lease that runs out 1 ms after the holder's next pass is due: the other replica often
          // wins the race for it, so the compare-and-set is exercised on every hand-over.
          leaseMs: 1,
          run: () =>
            tracker.enter(who, async () => {
              const lease = await leaseOf(store, "sweep");
              if (lease?.owner !== who || Date.parse(lease.expiresAt) <= Date.now()) {
                wrongOwner.push(`${who} ran while the lease was ${JSON.stringify(lease)}`);
              }
              await sleep(8);
            }),
        }),
      );
      return scheduler;
    };
    const schedulers = [make(a, "replica-a"), make(b, "replica-b")];
    try {
      for (const s of schedulers) s.start();
      await until(
        "both replicas ran passes",
        () => (tracker.runs.get("replica-a") ?? 0) >= 10 && (tracker.runs.get("replica-b") ?? 0) >= 10,
        40_000,
      );
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await dispose();
    }
    expect(tracker.overlaps).toEqual([]);
    expect(wrongOwner).toEqual([]);
    const skipped = schedulers.flatMap((s) => s.metrics()).reduce((n, m) => n + m.skipped, 0);
    expect(skipped).toBeGreaterThan(0);
  });

  it("the holder keeps the loop while alive; the other takes over as soon as it stops", async () => {
    const { a, b, dispose } = await twoReplicas();
    const tracker = new PassTracker();
    const make = (store: Store, who: string): Scheduler => {
      const s = new Scheduler({ logger: silent, store, replicaId: who });
      s.register(loop({ intervalMs: 10, run: () => tracker.enter(who, () => sleep(2)) }));
      return s;
    };
    const first = make(a, "first");
    const second = make(b, "second");
    try {
      first.start();
      await until("the first replica holds the lease", () => (tracker.runs.get("first") ?? 0) >= 1);
      second.start();
      await until("several more passes", () => (tracker.runs.get("first") ?? 0) >= 15);
      expect(tracker.runs.get("second") ?? 0).toBe(0);
      expect(second.metrics()[0]).toMatchObject({ holdsLease: false, passes: 0 });
      expect(second.metrics()[0]?.skipped).toBeGreaterThan(0);

      const stoppedAt = Date.now();
      await first.stop();
      // Stopping gives the lease up: no wait for its expiry.
      await until("the second replica took over", () => (tracker.runs.get("second") ?? 0) >= 1);
      expect(Date.now() - stoppedAt).toBeLessThan(2_000);
      expect((await leaseOf(a, "sweep"))?.owner).toBe("second");
    } finally {
      await Promise.all([first.stop(), second.stop()]);
      await dispose();
    }
    expect(tracker.overlaps).toEqual([]);
  });

  it("a replica that died holding a lease is replaced once the lease expires, not before", async () => {
    const { a, dispose } = await twoReplicas();
    const now = new Date();
    expect(
      await acquireLease(a, { name: "sweep", owner: "dead", now, until: new Date(now.getTime() + 400) }),
    ).toBe(true);
    const starts: number[] = [];
    const s = new Scheduler({ logger: silent, store: a, replicaId: "alive" });
    s.register(
      loop({
        intervalMs: 20,
        run: async () => {
          starts.push(Date.now());
        },
      }),
    );
    try {
      s.start();
      await until("the loop ran under the new replica", () => starts.length > 0);
      expect(starts[0]).toBeGreaterThanOrEqual(now.getTime() + 400);
      expect((await leaseOf(a, "sweep"))?.owner).toBe("alive");
    } finally {
      await s.stop();
      await dispose();
    }
  });

  it("aborts a pass whose lease another replica took meanwhile", async () => {
    const { a, b, dispose } = await twoReplicas();
    let reason: unknown;
    let started = false;
    const s = new Scheduler({ logger: silent, store: a, replicaId: "mine" });
    s.register(
      loop({
        leaseMs: 60,
        run: (signal) =>
          new Promise<void>((resolve) => {
            started = true;
            signal.addEventListener("abort", () => {
              reason = signal.reason;
              resolve();
            });
          }),
      }),
    );
    try {
      s.start();
      await until("the pass started", () => started);
      // Stands for a replica that took the lease over, e.g. after this one's clock jumped.
      await b.write((trx) => trx.updateTable("scheduler_leases").set({ owner: "thief" }).execute());
      await until("the pass was aborted", () => reason !== undefined);
      expect(reason).toMatchObject({ reason: "scheduler.lease-lost" });
      expect(s.metrics()[0]).toMatchObject({ holdsLease: false });
    } finally {
      await s.stop();
      await dispose();
    }
    // The thief's lease is not given up by the replica that lost it.
  });

  it("concurrent takers of a free lease: exactly one wins", async () => {
    const { a, b, dispose } = await twoReplicas();
    try {
      for (let round = 0; round < 5; round++) {
        const now = new Date();
        const until = new Date(now.getTime() + 60_000);
        const name = `race-${round}`;
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            acquireLease(i % 2 === 0 ? a : b, { name, owner: `taker-${i}`, now, until }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = `taker-${results.indexOf(true)}`;
        expect((await leaseOf(a, name))?.owner).toBe(winner);
        // The winner extends its own lease; another may not take it before it expires.
        expect(await acquireLease(b, { name, owner: winner, now, until })).toBe(true);
        expect(await acquireLease(a, { name, owner: "late", now, until })).toBe(false);
        expect(
          await acquireLease(a, { name, owner: "late", now: until, until: new Date(until.getTime() + 1) }),
        ).toBe(true);
      }
    } finally {
      await dispose();
    }
  });

  it("a lease the store cannot give is logged and retried; the pass does not run without it", async () => {
    const store = await freshStore(dialect);
    const lines: { msg: string; loop?: string }[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let ran = 0;
    const s = new Scheduler({ logger, store });
    s.register(
      loop({
        intervalMs: 10,
        run: async () => {
          ran += 1;
        },
      }),
    );
    await store.dispose();
    try {
      s.start();
      await until("two failed attempts", () => (s.metrics()[0]?.errors ?? 0) >= 2);
      expect(ran).toBe(0);
      expect(lines.find((l) => l.msg.includes("could not take its lease"))).toMatchObject({ loop: "sweep" });
    } finally {
      await s.stop();
    }
  });

  it("every-replica loops run on both schedulers", async () => {
    const { a, b, dispose } = await twoReplicas();
    const runs = new Map<string, number>();
    const make = (store: Store, who: string): Scheduler => {
      const s = new Scheduler({ logger: silent, store, replicaId: who });
      s.register(
        loop({
          scope: "every-replica",
          intervalMs: 5,
          run: async () => {
            runs.set(who, (runs.get(who) ?? 0) + 1);
          },
        }),
      );
      return s;
    };
    const schedulers = [make(a, "a"), make(b, "b")];
    try {
      for (const s of schedulers) s.start();
      await until("both ran", () => (runs.get("a") ?? 0) >= 5 && (runs.get("b") ?? 0) >= 5);
      // Every-replica loops take no lease.
      expect(await listLeases(a)).toEqual([]);
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await dispose();
    }
  });
});

describe("the server's background loops", () => {
  it("run on its scheduler, one-replica sweeps under a lease given up at shutdown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-scheduler-"));
    const url = `sqlite:${join(dir, "autopatch.db")}`;
    let server: RunningServer | null = await startServer({
      databaseUrl: url,
      listen: "127.0.0.1:0",
      adminToken: "ap_scheduler-test-admin",
      config: { heartbeatIntervalMs: 2_000 },
      logger: silent,
    });
    try {
      const metrics = () => server?.scheduler.metrics() ?? [];
      expect(metrics().map((m) => [m.name, m.scope])).toEqual([
        ["audit-checkpoint", "every-replica"],
        ["stale-sweep", "one-replica"],
        ["starting-soon", "one-replica"],
        ["package-log-merge", "every-replica"],
        ["outbox", "every-replica"],
        ["work-drain", "every-replica"],
        ["rollout-starter", "every-replica"],
        ["rollout-engine", "every-replica"],
      ]);
      await until("the stale sweep and the outbox ran", () =>
        metrics().every((m) => m.name === "starting-soon" || m.passes > 0),
      );
      expect(metrics().find((m) => m.name === "stale-sweep")).toMatchObject({ holdsLease: true, errors: 0 });
      expect(metrics().find((m) => m.name === "stale-sweep")?.intervalMs).toBe(1_000);
      const leases = await listLeases(server.ctx.store);
      expect(leases.find((l) => l.name === "stale-sweep")?.owner).toBe(server.scheduler.replicaId);

      await server.close();
      server = null;
      const store = await openStore(url);
      try {
        expect(await listLeases(store)).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("register the engine's loops on every replica at the engine's pace, or at a given one", async () => {
    const store = await freshStore("sqlite");
    const ctx = contextFor(store, undefined, { enginePassMs: 250 });
    const idle = new Scheduler({ logger: silent, store });
    registerEngineLoops(idle, ctx);
    expect(idle.metrics().map((m) => [m.name, m.scope, m.intervalMs])).toEqual([
      ["rollout-starter", "every-replica", 250],
      ["rollout-engine", "every-replica", 250],
    ]);

    const calls: string[] = [];
    const s = new Scheduler({ logger: silent, store });
    registerEngineLoops(s, ctx, {
      intervalMs: 20,
      passes: {
        startDue: async (signal) => {
          if (!signal.aborted) calls.push("start");
        },
        reconcile: async (signal) => {
          if (!signal.aborted) calls.push("reconcile");
        },
      },
    });
    try {
      s.start();
      await until("both engine loops ran twice", () => calls.filter((c) => c === "reconcile").length >= 2);
      expect(calls).toContain("start");
      expect(s.metrics().map((m) => [m.name, m.scope, m.intervalMs])).toEqual([
        ["rollout-starter", "every-replica", 20],
        ["rollout-engine", "every-replica", 20],
      ]);
    } finally {
      await s.stop();
      await idle.stop();
      await store.dispose();
    }
  });

  it("two servers on one PostgreSQL: one runs each sweep, both deliver and sign", {
    timeout: 60_000,
  }, async () => {
    const database = await freshStore("postgres");
    const dir = mkdtempSync(join(tmpdir(), "autopatch-scheduler-pg-"));
    const start = (name: string) =>
      startServer({
        databaseUrl: database.url,
        listen: "127.0.0.1:0",
        adminToken: "ap_scheduler-test-admin",
        config: { heartbeatIntervalMs: 2_000 },
        audit: { keyFile: join(dir, "audit-key.pem"), checkpointLog: join(dir, `${name}.checkpoints.jsonl`) },
        logger: silent,
      });
    const servers: RunningServer[] = [];
    try {
      servers.push(await start("a"), await start("b"));
      const sweep = (s: RunningServer) => s.scheduler.metrics().find((m) => m.name === "stale-sweep");
      await until(
        "both tried the stale sweep twice",
        () => servers.every((s) => (sweep(s)?.passes ?? 0) + (sweep(s)?.skipped ?? 0) >= 2),
        20_000,
      );
      const ran = servers.filter((s) => (sweep(s)?.passes ?? 0) > 0);
      expect(ran).toHaveLength(1);
      const other = servers.find((s) => !ran.includes(s));
      expect(sweep(other as RunningServer)).toMatchObject({ passes: 0, holdsLease: false });
      for (const s of servers) {
        const outbox = s.scheduler.metrics().find((m) => m.name === "outbox");
        expect(outbox?.passes).toBeGreaterThan(0);
      }
    } finally {
      for (const s of servers) await s.close();
      rmSync(dir, { recursive: true, force: true });
      await database.dispose();
    }
  });
});
