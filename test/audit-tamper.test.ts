import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashEvent } from "../src/audit/event.js";
import { rowToEvent, verifyAuditChain } from "../src/audit/log.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset, updateAsset } from "../src/inventory/assets.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

// Tampering is done straight in the database, as someone with write access to the store would.
describe.each(DIALECTS)("audit chain tampering on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;

  beforeEach(async () => {
    store = await freshStore(dialect);
    const ctx = contextFor(store);
    await createAsset(ctx, SYSTEM_ACTOR, "a", {});
    for (let i = 0; i < 5; i++) await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: `owner-${i}` });
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 6 });
  });
  afterEach(async () => store.dispose());

  it("detects an edited event and names it", async () => {
    await sql`update audit_events set actor = 'user:mallory' where seq = 3`.execute(store.db);
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(3);
    expect(result.broken?.reason).toMatch(/edited/);
  });

  it("detects an edit whose hash was recomputed, at the next event", async () => {
    const row = await store.db
      .selectFrom("audit_events")
      .selectAll()
      .where("seq", "=", 3)
      .executeTakeFirstOrThrow();
    const forged = { ...rowToEvent(row), actor: "user:mallory" };
    const { hash: _old, ...unhashed } = forged;
    await sql`update audit_events set actor = ${forged.actor}, hash = ${hashEvent(unhashed)} where seq = 3`.execute(
      store.db,
    );
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(4);
    expect(result.broken?.reason).toMatch(/previous-hash/);
  });

  it("detects a deleted event in the middle", async () => {
    await sql`delete from audit_events where seq = 4`.execute(store.db);
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(5);
    expect(result.broken?.reason).toMatch(/missing/);
  });

  it("detects events removed from the end", async () => {
    await sql`delete from audit_events where seq >= 5`.execute(store.db);
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(5);
  });

  it("detects two events swapped in order", async () => {
    // Swap the positions of events 2 and 3 (through a free seq to keep the primary key unique).
    await sql`update audit_events set seq = 1000 where seq = 2`.execute(store.db);
    await sql`update audit_events set seq = 2 where seq = 3`.execute(store.db);
    await sql`update audit_events set seq = 3 where seq = 1000`.execute(store.db);
    const result = await verifyAuditChain(store.db);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(2);
  });
});
