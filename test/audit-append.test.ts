import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../src/audit/canonical-json.js";
import { hashEvent, hashedText } from "../src/audit/event.js";
import { appendAudit, appendAudits, rowToEvent, verifyAuditChain } from "../src/audit/log.js";
import { DIALECTS, freshStore } from "./helpers/stores.js";

// Texts and numbers where two ways of writing canonical JSON and hashing it could part: the store's
// own append (one statement on PostgreSQL, its hash computed there) must give the hash hashEvent gives.
const AWKWARD: Array<Record<string, unknown>> = [
  { text: "é ü ß 中文 😀", quote: 'say "hi"\\now', controls: "tab\there\nnewline\u0001\u001f" },
  { separators: "line\u2028para\u2029", zeroWidth: "a\u200bb", bom: "\ufeffstart" },
  { numbers: [0, -1, 1.5, 1e21, 1e-7, 2 ** 53, -0.25], flags: [true, false, null] },
  { nested: { z: 1, a: { y: [{ b: 2, a: 1 }], x: {} } }, empty: [], "key with spaces": "", é: 1 },
  { long: "x".repeat(20_000) },
];

describe.each(DIALECTS)("appending audit events on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  beforeAll(async () => {
    store = await freshStore(dialect);
  });
  afterAll(async () => store?.dispose());

  it("stores each event with the hash hashEvent gives, and the chain verifies", async () => {
    const appended = [];
    for (const [i, data] of AWKWARD.entries()) {
      appended.push(
        await store.write((trx) =>
          appendAudit(trx, {
            actor: "user:zoë",
            action: "test.awkward",
            targetType: "test",
            targetId: `t-${i}`,
            ...(i % 2 === 0 ? { reason: 'why: «quoted» "reason"' } : {}),
            data,
          }),
        ),
      );
    }
    for (const event of appended) {
      const row = await store.db
        .selectFrom("audit_events")
        .selectAll()
        .where("id", "=", event.id)
        .executeTakeFirstOrThrow();
      const stored = rowToEvent(row);
      const { hash, ...unhashed } = stored;
      expect(hash).toBe(hashEvent(unhashed));
      // The stored payload is the text hashed for it: its canonical JSON.
      expect(row.data).toBe(canonicalJson(event.data));
      expect(sha256Hex(hashedText(unhashed, row.data))).toBe(hash);
      expect(stored).toEqual(event);
    }
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true });
  });

  it("appends several events of one write in order, chained as one-by-one appends chain them", async () => {
    const input = (i: number) => ({
      actor: "system",
      action: `test.many.${i}`,
      targetType: "test",
      targetId: `m-${i}`,
      ...(i % 3 === 0 ? { reason: "why" } : {}),
      data: AWKWARD[i % AWKWARD.length] ?? {},
    });
    const before = await store.write((trx) => appendAudit(trx, input(100)));
    // More events than one insert statement takes, so the chunks join up too.
    const many = await store.write((trx) =>
      appendAudits(
        trx,
        Array.from({ length: 1203 }, (_, i) => input(i)),
      ),
    );
    const after = await store.write((trx) => appendAudit(trx, input(101)));
    const nothing = await store.write((trx) => appendAudits(trx, []));
    expect(nothing).toEqual([]);

    expect(many.map((e) => e.action)).toEqual(Array.from({ length: 1203 }, (_, i) => `test.many.${i}`));
    const chain = [before, ...many, after];
    for (const [i, event] of chain.entries()) {
      if (i > 0) {
        expect(event.seq).toBe((chain[i - 1]?.seq ?? 0) + 1);
        expect(event.prevHash).toBe(chain[i - 1]?.hash);
      }
      const { hash, ...unhashed } = event;
      expect(hash).toBe(hashEvent(unhashed));
    }
    const rows = await store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", ">=", before.seq)
      .orderBy("seq")
      .execute();
    expect(rows.map(rowToEvent)).toEqual(chain);
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true });
  });

  it("appends none of a write's events when the write rolls back", async () => {
    const head = await store.db.selectFrom("audit_head").selectAll().executeTakeFirstOrThrow();
    await expect(
      store.write(async (trx) => {
        await appendAudits(trx, [
          { actor: "system", action: "test.rolled-back", targetType: "test", targetId: "r" },
          { actor: "system", action: "test.rolled-back", targetType: "test", targetId: "r" },
        ]);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await store.db.selectFrom("audit_head").selectAll().executeTakeFirstOrThrow()).toEqual(head);
    const kept = await store.db
      .selectFrom("audit_events")
      .select("seq")
      .where("action", "=", "test.rolled-back")
      .execute();
    expect(kept).toEqual([]);
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true });
  });
});
