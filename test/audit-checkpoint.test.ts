import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SignedCheckpoint } from "../src/audit/checkpoint.js";
import { readCheckpointLog } from "../src/audit/checkpoint-log.js";
import { type AuditCheckpointer, openCheckpointer } from "../src/audit/checkpointer.js";
import { verifyExport } from "../src/audit/export-verify.js";
import { verifyAuditChain } from "../src/audit/log.js";
import { type AuditSigningKey, loadSigningKey } from "../src/audit/signing-key.js";
import { verifyAgainstCheckpoints } from "../src/audit/verify-checkpoints.js";
import { type AppError, isAppError } from "../src/domain/errors.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset, updateAsset } from "../src/inventory/assets.js";
import type { ServiceContext } from "../src/service/context.js";
import { deleteAndRenumber, rewriteFrom, truncateFrom } from "./helpers/audit-attacks.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isAppError(err)) throw new Error(`expected an AppError, got ${String(err)}`);
  expect(err.code).toBe(code);
  return err;
}

describe.each(DIALECTS)("audit checkpoints on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  let dir: string;
  let key: AuditSigningKey;
  let checkpointer: AuditCheckpointer;
  /** A checkpoint of event 6, the head after setup, kept outside the store. */
  let atSix: SignedCheckpoint;

  beforeEach(async () => {
    store = await freshStore(dialect);
    // A clock that moves a minute per reading: every event has its own time, for the export ranges.
    let clock = Date.parse("2026-03-02T08:00:00.000Z");
    ctx = contextFor(store, () => {
      clock += 60_000;
      return new Date(clock);
    });
    dir = mkdtempSync(join(tmpdir(), "autopatch-checkpoint-"));
    key = loadSigningKey(join(dir, "audit-key.pem"), { create: true });
    checkpointer = await openCheckpointer({ db: store.db, key, logPath: join(dir, "checkpoints.jsonl") });
    await createAsset(ctx, SYSTEM_ACTOR, "a", {});
    for (let i = 0; i < 5; i++) await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: `owner-${i}` });
    atSix = await checkpointer.checkpoint();
    expect(atSix.checkpoint.seq).toBe(6);
  });
  afterEach(async () => {
    await store.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the checkpoint to the log outside the store, and only when the head moved", async () => {
    expect(await checkpointer.checkpointIfMoved()).toBeNull();
    await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: "someone" });
    const next = await checkpointer.checkpointIfMoved();
    expect(next?.checkpoint.seq).toBe(7);
    const log = await readCheckpointLog(checkpointer.logPath ?? "");
    expect(log.map((c) => c.checkpoint.seq)).toEqual([6, 7]);
    expect(await verifyAgainstCheckpoints(store.db, log, key.publicKey)).toMatchObject({
      ok: true,
      checkpoints: 2,
    });
  });

  it("detects the newest events cut off, with every hash and the head recomputed", async () => {
    await truncateFrom(store.db, 5);
    // The chain alone cannot tell: it is consistent in itself.
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 4 });
    const result = await verifyAgainstCheckpoints(store.db, [atSix], key.publicKey);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(5);
    expect(result.broken?.reason).toMatch(/ends at event 4 .* covers event 6: events were cut off the end/);
  });

  it("detects a rewritten and re-hashed range, and narrows it down with an earlier checkpoint", async () => {
    const log = await readCheckpointLog(checkpointer.logPath ?? "");
    await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: "later" });
    const atSeven = await checkpointer.checkpoint();
    await rewriteFrom(store.db, 7, "user:mallory");
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 7 });
    const result = await verifyAgainstCheckpoints(store.db, [atSeven, ...log], key.publicKey);
    expect(result.ok).toBe(false);
    expect(result.checkpoints).toBe(1);
    expect(result.broken?.seq).toBe(7);
    expect(result.broken?.reason).toMatch(/event 7 differs from the checkpoint .* rewritten after event 6/);
  });

  it("detects a range rewritten in the middle and re-hashed to the end", async () => {
    await rewriteFrom(store.db, 3, "user:mallory");
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 6 });
    const result = await verifyAgainstCheckpoints(store.db, [atSix], key.publicKey);
    expect(result.broken?.seq).toBe(6);
    expect(result.broken?.reason).toMatch(/differs from the checkpoint/);
  });

  it("detects a deleted middle event whose successors were renumbered and re-hashed", async () => {
    await deleteAndRenumber(store.db, 4);
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 5 });
    expect((await verifyAgainstCheckpoints(store.db, [atSix], key.publicKey)).ok).toBe(false);
    // New events bring the chain back to six: the checkpointed event 6 is now another one.
    await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: "after" });
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 6 });
    const result = await verifyAgainstCheckpoints(store.db, [atSix], key.publicKey);
    expect(result.ok).toBe(false);
    expect(result.broken?.seq).toBe(6);
    expect(result.broken?.reason).toMatch(/differs from the checkpoint/);
  });

  it("refuses to sign a head that no longer extends the last checkpoint", async () => {
    await rewriteFrom(store.db, 2, "user:mallory");
    await updateAsset(ctx, SYSTEM_ACTOR, "a", { owner: "after" });
    const err = await expectAppError(checkpointer.checkpointIfMoved(), "internal");
    expect(err.reason).toBe("audit.chain-broken");
    expect(err.message).toMatch(/event 6 differs from the checkpoint/);
    await truncateFrom(store.db, 4);
    expect((await expectAppError(checkpointer.checkpoint(), "internal")).message).toMatch(/cut off the end/);
    expect((await readCheckpointLog(checkpointer.logPath ?? "")).length).toBe(1);
  });

  it("rejects a checkpoint that was altered or signed by another key", async () => {
    const forged: SignedCheckpoint = { ...atSix, checkpoint: { ...atSix.checkpoint, seq: 4 } };
    const altered = await verifyAgainstCheckpoints(store.db, [forged], key.publicKey);
    expect(altered.ok).toBe(false);
    expect(altered.broken?.reason).toMatch(/signature does not verify/);
    const other = loadSigningKey(join(dir, "other-key.pem"), { create: true });
    const foreign = await verifyAgainstCheckpoints(store.db, [atSix], other.publicKey);
    expect(foreign.broken?.reason).toMatch(/names key .* not the given key/);
  });

  it("exports a range that the public key alone verifies, and names the first bad line of a damaged one", async () => {
    const text = async (range: { since?: string; until?: string }) => {
      let out = "";
      for await (const line of await checkpointer.export(range)) out += line;
      return out;
    };
    const all = await text({});
    expect(verifyExport(all, key.publicKey)).toMatchObject({
      ok: true,
      checked: 6,
      checkpoint: { seq: 6, first: 1 },
    });

    const at = (await store.db.selectFrom("audit_events").select(["seq", "at"]).orderBy("seq").execute()).map(
      (r) => r.at,
    );
    const some = await text({ since: at[2] ?? "", until: at[4] ?? "" });
    const lines = some.trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { seq?: number }).seq)).toEqual([3, 4, undefined]);
    expect(verifyExport(some, key.publicKey)).toMatchObject({
      ok: true,
      checked: 2,
      checkpoint: { seq: 4, first: 3 },
    });
    // Dropping the first event of a range is detected: the signed checkpoint says where the range starts.
    expect(verifyExport(lines.slice(1).join("\n"), key.publicKey).broken).toMatchObject({ line: 1, seq: 4 });
    expect(verifyExport(await text({ since: "2030-01-01T00:00:00.000Z" }), key.publicKey)).toMatchObject({
      ok: true,
      checked: 0,
      checkpoint: { seq: 6, first: 7 },
    });

    const allLines = all.trim().split("\n");
    const edited = allLines.map((l, i) =>
      i === 3 ? JSON.stringify({ ...JSON.parse(l), actor: "user:mallory" }) : l,
    );
    expect(verifyExport(edited.join("\n"), key.publicKey).broken).toMatchObject({
      line: 4,
      seq: 4,
      reason: expect.stringMatching(/edited/),
    });
    const cut = [...allLines.slice(0, 4), allLines.at(-1)].join("\n");
    expect(verifyExport(cut, key.publicKey).broken?.reason).toMatch(
      /ends at event 4 but its checkpoint covers event 6/,
    );
    expect(verifyExport(allLines.slice(0, -1).join("\n"), key.publicKey).broken).toMatchObject({ line: 6 });
  });

  it("refuses to export from a chain that left the last checkpoint", async () => {
    await rewriteFrom(store.db, 2, "user:mallory");
    const err = await expectAppError(checkpointer.export({ until: "2030-01-01T00:00:00.000Z" }), "internal");
    expect(err.reason).toBe("audit.chain-broken");
  });

  it("names the event when the head row is missing or an event's data is not JSON", async () => {
    await sql`delete from audit_head`.execute(store.db);
    expect(await verifyAuditChain(store.db)).toMatchObject({
      ok: false,
      broken: { seq: 6, reason: expect.stringMatching(/head row is missing/) },
    });
    await sql`insert into audit_head (id, seq, hash) values (1, 6, ${atSix.checkpoint.hash})`.execute(
      store.db,
    );
    await sql`update audit_events set data = '{not json' where seq = 3`.execute(store.db);
    const result = await verifyAuditChain(store.db);
    expect(result).toMatchObject({
      ok: false,
      checked: 2,
      broken: { seq: 3, reason: expect.stringMatching(/not JSON/) },
    });
    expect(result.broken?.id).toEqual(expect.any(String));
  });
});
