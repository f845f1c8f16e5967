import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { appendAudit } from "../src/audit/log.js";
import { claimDue } from "../src/notify/claim.js";
import { deliverDue } from "../src/notify/deliver.js";
import { notificationKey } from "../src/notify/idempotency-key.js";
import { listOutbox } from "../src/notify/list.js";
import { enqueueNotifications, type NotificationEvent } from "../src/notify/outbox.js";
import { startOutboxWorker } from "../src/notify/worker.js";
import { type Policy, PolicySchema } from "../src/policy/schema.js";
import type { ServiceContext } from "../src/service/context.js";
import { openStore, type Store } from "../src/store/store.js";
import { contextFor, DIALECTS, freshStore, LOOPBACK_WEBHOOKS } from "./helpers/stores.js";

/** What the receiver does with a request: answer with a status, drop the connection, or never answer. */
type Reply = number | "reset" | "hang";

interface Receipt {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  reply: Reply;
}

interface Receiver {
  url: string;
  receipts: Receipt[];
  /** Requests answered with a 2xx, by idempotency key. */
  accepted(): Map<string, number>;
  close(): Promise<void>;
}

/** A real HTTP receiver on the loopback interface; `reply` decides each answer from its sequence number. */
async function startReceiver(reply: (n: number) => Reply, delayMs = 0): Promise<Receiver> {
  const receipts: Receipt[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = reply(receipts.length);
      receipts.push({
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        reply: answer,
      });
      if (answer === "hang") return;
      if (answer === "reset") {
        req.socket.destroy();
        return;
      }
      setTimeout(() => res.writeHead(answer, { "content-type": "text/plain" }).end("ok"), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    receipts,
    accepted: () => {
      const counts = new Map<string, number>();
      for (const r of receipts) {
        if (typeof r.reply !== "number" || r.reply < 200 || r.reply >= 300) continue;
        const key = String(r.headers["idempotency-key"]);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Two webhooks: `ops` (json, every event, a token in its query string) and `chat` (slack, two events). */
function policyFor(receiver: Receiver): Policy {
  return PolicySchema.parse({
    name: "notify-test",
    notifications: {
      webhooks: [
        { name: "ops", url: `${receiver.url}/hook?token=s3cret`, format: "json" },
        { name: "chat", url: `${receiver.url}/slack`, format: "slack", events: ["failed", "completed"] },
      ],
    },
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe.each(DIALECTS)("notification outbox on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let clock: Date;
  const receivers: Receiver[] = [];

  const receiver = async (reply: (n: number) => Reply, delayMs = 0): Promise<Receiver> => {
    const r = await startReceiver(reply, delayMs);
    receivers.push(r);
    return r;
  };
  const subject = (id: string) => ({
    type: "change" as const,
    id,
    title: `Change ${id}`,
    data: { assets: 3, selector: "env=prod" },
  });
  const enqueue = (policy: Policy, event: NotificationEvent, id: string, occurrence?: string) =>
    store.db
      .transaction()
      .execute((trx) => enqueueNotifications(trx, policy, event, subject(id), clock, occurrence));
  const outboxRows = () =>
    store.db.selectFrom("outbox").selectAll().orderBy("created_at").orderBy("id").execute();
  const pending = async () => (await listOutbox(store.db, { state: "pending" })).length;

  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => clock, LOOPBACK_WEBHOOKS);
  });
  afterAll(async () => store?.dispose());
  beforeEach(async () => {
    clock = new Date("2026-11-20T10:00:00Z");
    await store.db.deleteFrom("outbox").execute();
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it("enqueues one message per subscribed webhook, once however often it is enqueued", async () => {
    const rx = await receiver(() => 200);
    const policy = policyFor(rx);
    expect(await enqueue(policy, "scheduled", "chg-1")).toBe(1); // only `ops` subscribes to scheduled
    expect(await enqueue(policy, "scheduled", "chg-1")).toBe(0);
    expect(await enqueue(policy, "failed", "chg-1")).toBe(2);
    expect(await enqueue(policy, "failed", "chg-1")).toBe(0);
    // Repeats of one event on one subject are told apart by their occurrence.
    expect(await enqueue(policy, "paused", "chg-1", "1")).toBe(1);
    expect(await enqueue(policy, "paused", "chg-1", "2")).toBe(1);
    expect(await enqueue(policy, "paused", "chg-1", "2")).toBe(0);
    // A policy without webhooks enqueues nothing.
    expect(
      await store.db
        .transaction()
        .execute((trx) =>
          enqueueNotifications(trx, PolicySchema.parse({}), "failed", subject("chg-1"), clock),
        ),
    ).toBe(0);
    const rows = await outboxRows();
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.idempotency_key)).size).toBe(5);
    expect(rows.every((r) => Number(r.attempts) === 0 && r.next_attempt_at === clock.toISOString())).toBe(
      true,
    );

    expect(await deliverDue(ctx)).toEqual({ delivered: 5, failed: 0, dead: 0 });
    expect([...rx.accepted().values()]).toEqual([1, 1, 1, 1, 1]);
    expect(await enqueue(policy, "failed", "chg-1")).toBe(0); // delivered messages still de-duplicate
  });

  it("refuses to enqueue outside a transaction or for an unknown event, changing nothing", async () => {
    const rx = await receiver(() => 200);
    const policy = policyFor(rx);
    await expect(enqueueNotifications(store.db, policy, "failed", subject("chg-x"), clock)).rejects.toThrow(
      /inside the state change's transaction/,
    );
    await expect(
      store.db
        .transaction()
        .execute((trx) =>
          enqueueNotifications(trx, policy, "exploded" as NotificationEvent, subject("c"), clock),
        ),
    ).rejects.toMatchObject({ code: "validation", where: "event" });
    await expect(
      store.db
        .transaction()
        .execute((trx) =>
          enqueueNotifications(trx, policy, "failed", { ...subject("c"), data: { n: 1n } }, clock),
        ),
    ).rejects.toMatchObject({ code: "validation", where: "/subject/data" });
    expect(await outboxRows()).toHaveLength(0);
  });

  it("posts both formats with the content type, idempotency key and user agent", async () => {
    const rx = await receiver(() => 204);
    await enqueue(policyFor(rx), "failed", "chg-2");
    expect(await deliverDue(ctx)).toEqual({ delivered: 2, failed: 0, dead: 0 });
    expect(rx.receipts).toHaveLength(2);

    const json = rx.receipts.find((r) => r.path.startsWith("/hook"));
    const slack = rx.receipts.find((r) => r.path === "/slack");
    const opsKey = notificationKey("failed", "chg-2", "ops");
    expect(json?.path).toBe("/hook?token=s3cret");
    expect(json?.headers).toMatchObject({
      "content-type": "application/json",
      "idempotency-key": opsKey,
      "user-agent": "autopatch",
    });
    expect(JSON.parse(json?.body ?? "")).toEqual({
      event: "failed",
      subject: { type: "change", id: "chg-2", title: "Change chg-2" },
      data: { assets: 3, selector: "env=prod" },
      occurredAt: "2026-11-20T10:00:00.000Z",
      idempotencyKey: opsKey,
    });

    expect(slack?.headers).toMatchObject({
      "content-type": "application/json",
      "idempotency-key": notificationKey("failed", "chg-2", "chat"),
      "user-agent": "autopatch",
    });
    expect(JSON.parse(slack?.body ?? "")).toEqual({
      text: "Change chg-2: failed",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "*Change chg-2*\nchange chg-2 failed" } },
        {
          type: "section",
          fields: [
            { type: "mrkdwn", text: "*assets*\n3" },
            { type: "mrkdwn", text: "*selector*\nenv=prod" },
          ],
        },
      ],
    });

    const delivered = await listOutbox(store.db, { state: "delivered" });
    expect(delivered).toHaveLength(2);
    for (const m of delivered) {
      expect(m).toMatchObject({
        attempts: 1,
        deliveredAt: clock.toISOString(),
        lastError: null,
        claimedUntil: null,
      });
      expect(m.target.url).not.toContain("s3cret");
    }
    // A delivered message is never sent again.
    expect(await deliverDue(ctx, new Date(clock.getTime() + 86_400_000))).toEqual({
      delivered: 0,
      failed: 0,
      dead: 0,
    });
    expect(rx.receipts).toHaveLength(2);
  });

  it("enqueues nothing when the state change's transaction rolls back", async () => {
    const rx = await receiver(() => 200);
    const head = await store.db.selectFrom("audit_head").selectAll().executeTakeFirstOrThrow();
    await expect(
      store.db.transaction().execute(async (trx) => {
        await appendAudit(trx, {
          actor: "system",
          action: "change.fail",
          targetType: "change",
          targetId: "chg-3",
        });
        expect(await enqueueNotifications(trx, policyFor(rx), "failed", subject("chg-3"), clock)).toBe(2);
        throw new Error("the state change failed after enqueueing");
      }),
    ).rejects.toThrow(/failed after enqueueing/);
    expect(await outboxRows()).toHaveLength(0);
    expect(await store.db.selectFrom("audit_head").selectAll().executeTakeFirstOrThrow()).toEqual(head);
    expect(await deliverDue(ctx)).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(rx.receipts).toHaveLength(0);
  });

  it("refuses at delivery a destination the server's allow-list does not name, without posting", async () => {
    const rx = await receiver(() => 200);
    await enqueue(policyFor(rx), "failed", "chg-guard");
    // The same store under a server started without --webhook-allow.
    const strict = contextFor(store, () => clock);
    let posts = 0;
    const counting: typeof fetch = (input, init) => {
      posts += 1;
      return fetch(input, init);
    };
    expect(await deliverDue(strict, clock, { fetch: counting })).toEqual({
      delivered: 0,
      failed: 2,
      dead: 0,
    });
    expect(posts).toBe(0);
    expect(rx.receipts).toHaveLength(0);
    const refused = await outboxRows();
    expect(refused.map((r) => r.last_error)).toEqual([
      expect.stringMatching(/^destination refused: points at 127\.0\.0\.1, a loopback address/),
      expect.stringMatching(/^destination refused: points at 127\.0\.0\.1, a loopback address/),
    ]);
    // A host name is resolved at delivery, and refused when it leads to a refused address.
    const named = PolicySchema.parse({
      notifications: { webhooks: [{ name: "meta", url: "http://metadata.example.test/latest" }] },
    });
    await enqueue(named, "failed", "chg-named");
    const later = new Date(clock.getTime() + 86_400_000);
    const toMetadata = async () => [{ address: "169.254.169.254" }];
    expect(await deliverDue(strict, later, { fetch: counting, resolve: toMetadata })).toEqual({
      delivered: 0,
      failed: 3,
      dead: 0,
    });
    expect(posts).toBe(0);
    const namedRow = (await outboxRows()).find((r) => r.subject_id === "chg-named");
    expect(namedRow?.last_error).toBe(
      "destination refused: metadata.example.test resolves to 169.254.169.254, a linkLocal address",
    );
    // Under the allow-list the loopback receiver gets its messages.
    await store.db.deleteFrom("outbox").where("subject_id", "=", "chg-named").execute();
    expect(await deliverDue(ctx, new Date(later.getTime() + 86_400_000))).toEqual({
      delivered: 2,
      failed: 0,
      dead: 0,
    });
    expect(rx.receipts).toHaveLength(2);
  });

  it("retries with backoff and delivers on the third attempt when the receiver fails twice", async () => {
    const rx = await receiver((n) => (n < 2 ? 503 : 200));
    await enqueue(policyFor(rx), "started", "chg-4");
    const t0 = clock.getTime();
    const at = (ms: number) => new Date(t0 + ms);
    // random 0.5: full jitter waits half the ceiling, 2.5 s after the first failure and 5 s after the second.
    const opts = { random: () => 0.5 };

    expect(await deliverDue(ctx, at(0), opts)).toEqual({ delivered: 0, failed: 1, dead: 0 });
    let [row] = await outboxRows();
    expect(row).toMatchObject({
      next_attempt_at: at(2_500).toISOString(),
      last_error: "HTTP 503 Service Unavailable",
    });
    expect(Number(row?.attempts)).toBe(1);

    expect(await deliverDue(ctx, at(2_499), opts)).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(rx.receipts).toHaveLength(1);
    expect(await deliverDue(ctx, at(2_500), opts)).toEqual({ delivered: 0, failed: 1, dead: 0 });
    [row] = await outboxRows();
    expect(row?.next_attempt_at).toBe(at(7_500).toISOString());

    expect(await deliverDue(ctx, at(7_499), opts)).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(rx.receipts).toHaveLength(2);
    expect(await deliverDue(ctx, at(7_500), opts)).toEqual({ delivered: 1, failed: 0, dead: 0 });
    [row] = await outboxRows();
    expect(row).toMatchObject({ delivered_at: at(7_500).toISOString(), last_error: null, dead_at: null });
    expect(Number(row?.attempts)).toBe(3);
    // Every attempt carries the same key, so the receiver can tell a retry from a new message.
    expect(new Set(rx.receipts.map((r) => r.headers["idempotency-key"]))).toEqual(
      new Set([notificationKey("started", "chg-4", "ops")]),
    );
  });

  it("gives up after 12 attempts and keeps the message as dead", async () => {
    const rx = await receiver(() => 500);
    await enqueue(policyFor(rx), "completed", "chg-5"); // ops and chat
    const opts = { random: () => 0 }; // no wait between attempts
    for (let attempt = 1; attempt <= 11; attempt++) {
      expect(await deliverDue(ctx, clock, opts)).toEqual({ delivered: 0, failed: 2, dead: 0 });
    }
    expect(await deliverDue(ctx, clock, opts)).toEqual({ delivered: 0, failed: 0, dead: 2 });
    expect(await deliverDue(ctx, new Date(clock.getTime() + 86_400_000), opts)).toEqual({
      delivered: 0,
      failed: 0,
      dead: 0,
    });
    expect(rx.receipts).toHaveLength(24);

    const dead = await listOutbox(store.db, { state: "dead" });
    expect(dead.map((m) => [m.target.name, m.attempts, m.deadAt, m.lastError]).sort()).toEqual([
      ["chat", 12, clock.toISOString(), "HTTP 500 Internal Server Error"],
      ["ops", 12, clock.toISOString(), "HTTP 500 Internal Server Error"],
    ]);
    expect(await pending()).toBe(0);

    // The limit is configurable.
    await enqueue(policyFor(rx), "started", "chg-5b");
    expect(await deliverDue(ctx, clock, { ...opts, maxAttempts: 2 })).toEqual({
      delivered: 0,
      failed: 1,
      dead: 0,
    });
    expect(await deliverDue(ctx, clock, { ...opts, maxAttempts: 2 })).toEqual({
      delivered: 0,
      failed: 0,
      dead: 1,
    });
    await expect(listOutbox(store.db, { state: "gone" as "dead" })).rejects.toMatchObject({
      code: "validation",
    });
  });

  it("times out a receiver that never answers and records why", async () => {
    const rx = await receiver(() => "hang");
    await enqueue(policyFor(rx), "started", "chg-6");
    const started = Date.now();
    expect(await deliverDue(ctx, clock, { timeoutMs: 150 })).toEqual({ delivered: 0, failed: 1, dead: 0 });
    expect(Date.now() - started).toBeLessThan(5_000);
    const [row] = await outboxRows();
    expect(row?.last_error).toBe("timed out");
    expect(row?.claimed_until).toBeNull();
  });

  it("counts a redirect as a failure rather than following it", async () => {
    const rx = await receiver(() => 302);
    await enqueue(policyFor(rx), "started", "chg-6b");
    expect(await deliverDue(ctx, clock)).toEqual({ delivered: 0, failed: 1, dead: 0 });
    expect(rx.receipts).toHaveLength(1);
    expect((await outboxRows())[0]?.last_error).toBe("HTTP 302 Found");
  });

  it("loses nothing when the receiver is down, a worker stops and another crashes holding claims", async () => {
    let down = true;
    const rx = await receiver(() => (down ? "reset" : 200));
    const policy = policyFor(rx);
    for (const id of ["chg-7a", "chg-7b", "chg-7c"]) await enqueue(policy, "failed", id);
    const keys = (await outboxRows()).map((r) => r.idempotency_key);
    expect(keys).toHaveLength(6);

    // The first worker finds the receiver down: every message fails once and waits 2.5 s on the frozen clock.
    const first = startOutboxWorker(ctx, { pollMs: 5, random: () => 0.5 });
    await waitFor("every message was tried", async () =>
      (await outboxRows()).every((r) => Number(r.attempts) >= 1),
    );
    await first.stop();
    let rows = await outboxRows();
    expect(rows.every((r) => r.delivered_at === null && r.claimed_until === null && r.dead_at === null)).toBe(
      true,
    );
    expect(rows.every((r) => r.last_error !== null && !r.last_error.includes("s3cret"))).toBe(true);
    expect(rx.accepted().size).toBe(0);

    // Later, a worker claims two messages and dies before posting them.
    clock = new Date(clock.getTime() + 60 * 60 * 1000);
    const orphaned = await claimDue(store, clock, 2, 60_000);
    expect(orphaned).toHaveLength(2);

    // The receiver is back; a new worker on the same store delivers everything not under a live lease…
    down = false;
    const second = startOutboxWorker(ctx, { pollMs: 5, random: () => 0.5 });
    await waitFor("the unclaimed messages are delivered", async () => (await pending()) === 2);
    await sleep(50);
    rows = await outboxRows();
    const waiting = rows.filter((r) => r.delivered_at === null).map((r) => r.id);
    expect(waiting.sort()).toEqual(orphaned.map((r) => r.id).sort());

    // …and the orphaned ones once their lease has run out.
    clock = new Date(clock.getTime() + 60_001);
    await waitFor("the orphaned messages are delivered", async () => (await pending()) === 0);
    await second.stop();

    const accepted = rx.accepted();
    expect([...accepted.keys()].sort()).toEqual([...keys].sort());
    expect([...accepted.values()].every((n) => n === 1)).toBe(true);
    expect(await listOutbox(store.db, { state: "dead" })).toHaveLength(0);
  });

  it("stops a worker through its abort signal", async () => {
    const rx = await receiver(() => 200);
    const controller = new AbortController();
    const worker = startOutboxWorker(ctx, { pollMs: 5, signal: controller.signal });
    await enqueue(policyFor(rx), "completed", "chg-8");
    await waitFor("delivered", async () => (await pending()) === 0);
    controller.abort();
    await worker.stop();
    await enqueue(policyFor(rx), "completed", "chg-8b");
    await sleep(30);
    expect(await pending()).toBe(2);
  });

  it("logs a fixed message per outcome, never the URL past its origin", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const logged = { ...ctx, logger };
    const rx = await receiver((n) => (n === 0 ? 502 : 200));
    await enqueue(policyFor(rx), "started", "chg-9");
    await deliverDue(logged, clock, { random: () => 0 });
    await deliverDue(logged, clock, { random: () => 0 });
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e.msg)).toEqual(["notification delivery failed", "notification delivered"]);
    expect(entries[0]).toMatchObject({
      target: "ops",
      url: `${rx.url}/…`,
      event: "started",
      subject: "change/chg-9",
      attempts: 1,
      error: "HTTP 502 Bad Gateway",
    });
    expect(entries[1]).toMatchObject({ url: `${rx.url}/…`, attempts: 2, status: 200 });
    expect(lines.join("\n")).not.toContain("s3cret");
    expect(JSON.stringify(await listOutbox(store.db))).not.toContain("s3cret");
  });

  it("concurrent claims take disjoint messages and leave none behind", async () => {
    const rx = await receiver(() => 200);
    for (let i = 0; i < 6; i++) await enqueue(policyFor(rx), "failed", `chg-claim-${i}`);
    const claims = await Promise.all(Array.from({ length: 4 }, () => claimDue(store, clock, 5, 60_000)));
    const ids = claims.flat().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual((await outboxRows()).map((r) => r.id).sort());
    // While the leases hold, nothing more can be claimed.
    expect(await claimDue(store, clock, 5, 60_000)).toEqual([]);
    expect(await claimDue(store, new Date(clock.getTime() + 60_000), 50, 60_000)).toHaveLength(12);
  });

  it("two workers on separate connections racing deliver every message, with no duplicates", async () => {
    const rx = await receiver(() => 200, 2);
    const policy = policyFor(rx);
    for (let i = 0; i < 30; i++) await enqueue(policy, "failed", `chg-race-${i}`);
    const keys = (await outboxRows()).map((r) => r.idempotency_key);
    expect(keys).toHaveLength(60);

    // A second store on the same database stands for a second replica with its own pool.
    const url =
      dialect === "postgres"
        ? `${inject("pgBaseUrl")}/${(await sql<{ db: string }>`select current_database() as db`.execute(store.db)).rows[0]?.db}`
        : store.displayUrl;
    const replica: Store = await openStore(url);
    const posted = [0, 0];
    const counting =
      (i: 0 | 1): typeof fetch =>
      (input, init) => {
        posted[i] = (posted[i] ?? 0) + 1;
        return fetch(input, init);
      };
    const realClock = () => new Date();
    const a = startOutboxWorker(contextFor(store, realClock, LOOPBACK_WEBHOOKS), {
      pollMs: 5,
      batch: 5,
      fetch: counting(0),
    });
    const b = startOutboxWorker(contextFor(replica, realClock, LOOPBACK_WEBHOOKS), {
      pollMs: 5,
      batch: 5,
      fetch: counting(1),
    });
    try {
      await waitFor("every message is delivered", async () => (await pending()) === 0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await replica.close();
    }

    const accepted = rx.accepted();
    const duplicates = [...accepted.values()].reduce((sum, n) => sum + n - 1, 0);
    expect([...accepted.keys()].sort()).toEqual([...keys].sort());
    expect(duplicates, `duplicate deliveries (workers posted ${posted.join(" + ")})`).toBe(0);
    expect((posted[0] ?? 0) + (posted[1] ?? 0)).toBe(60);
  });
});
